//! The C ABI of the example's Rust runtime.

/// Called from C: the sum of the squares of 1..=n.
#[no_mangle]
pub extern "C" fn rust_sum_of_squares(n: u32) -> u64 {
    math::sum_of_squares(n)
}
