//! Dense `f32` matrix products for the scanners, through `matrixmultiply`
//! (single-threaded, so every product is the same whatever the thread count;
//! the scanners parallelise over blocks or classes instead).

/// `C (m×n) = A (m×k) · Bᵀ`, with `B` stored `n×k` row-major.
pub fn a_bt(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the slices hold the `m×k`, `n×k` and `m×n` elements addressed
    // by these strides (checked above).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// `C (m×n) = A (m×k) · B (k×n)`, all row-major.
pub fn a_b(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: as in `a_bt`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// `C (k×n) = Aᵀ · B`, with `A` stored `m×k` and `B` stored `m×n`, row-major.
pub fn at_b(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= m * n && c.len() >= k * n);
    if k == 0 || n == 0 {
        return;
    }
    // SAFETY: as in `a_bt`.
    unsafe {
        matrixmultiply::sgemm(
            k,
            m,
            n,
            1.0,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_by_hand() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2×3
        let b = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]; // 2×3
        let mut c = [0.0; 4];
        a_bt(&a, 2, 3, &b, 2, &mut c);
        assert_eq!(c, [4.0, 2.0, 10.0, 5.0]);
        let bb = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3×2
        a_b(&a, 2, 3, &bb, 2, &mut c);
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        let mut d = [0.0; 9]; // Aᵀ A, 3×3
        at_b(&a, 2, 3, &a, 3, &mut d);
        assert_eq!(d, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    }
}
