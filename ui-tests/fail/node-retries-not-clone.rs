use obs_runtime::node;

#[derive(Debug)]
struct Document {
    body: String,
}

#[derive(Debug)]
struct StepError;

#[node(retries = 2)]
async fn enrich(id: u64, doc: Document) -> Result<usize, StepError> {
    Ok(doc.body.len() + id as usize)
}

fn main() {}
