// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use obs_runtime::observe;

trait Shape {
    fn area(&self) -> f64;
    fn scale(&mut self, by: f64);
    fn name() -> &'static str;
}

#[derive(Debug)]
struct Square(f64);

impl Shape for Square {
    #[observe]
    fn area(&self) -> f64 {
        self.0 * self.0
    }

    #[observe(level = "debug")]
    fn scale(&mut self, by: f64) {
        self.0 *= by;
    }

    #[observe(name = "shape_name")]
    fn name() -> &'static str {
        "square"
    }
}

impl std::fmt::Display for Square {
    #[observe(skip(f))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "square of side {}", self.0)
    }
}

fn main() {
    let mut square = Square(2.0);
    square.scale(2.0);
    assert_eq!(square.area(), 16.0);
    assert_eq!(Square::name(), "square");
    assert_eq!(square.to_string(), "square of side 4");
}
