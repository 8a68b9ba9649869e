//! Rebuilds the binary when the embedded product templates change.

fn main() {
    println!("cargo:rerun-if-changed=templates");
}
