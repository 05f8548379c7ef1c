//! Arithmetic the C program gets through the `adder` crate.

/// The sum of the squares of 1..=n.
pub fn sum_of_squares(n: u32) -> u64 {
    (1..=n as u64).map(|i| i * i).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums() {
        assert_eq!(sum_of_squares(0), 0);
        assert_eq!(sum_of_squares(3), 14);
        assert_eq!(sum_of_squares(10), 385);
    }
}
