//! Dense matrix products for the scanners (`f32`, and `f64` for the robust
//! covariance fits), through `matrixmultiply`: single-threaded, so every
//! product is the same whatever the thread count; the scanners parallelise
//! over blocks or classes instead.

/// An element type `matrixmultiply` multiplies: `f32` or `f64`.
pub trait Element: Copy {
    /// `matrixmultiply`'s general product for this type.
    ///
    /// # Safety
    /// As for `matrixmultiply::sgemm`: every element addressed by the shapes
    /// and strides lies in its allocation.
    #[allow(clippy::too_many_arguments)]
    unsafe fn product(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        c: *mut Self,
        rsc: isize,
    );
}

macro_rules! element {
    ($t:ty, $f:path) => {
        impl Element for $t {
            unsafe fn product(
                m: usize,
                k: usize,
                n: usize,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                c: *mut Self,
                rsc: isize,
            ) {
                // SAFETY: forwarded from the caller's contract.
                unsafe { $f(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, 1) }
            }
        }
    };
}
element!(f32, matrixmultiply::sgemm);
element!(f64, matrixmultiply::dgemm);

/// `C (m×n) = A (m×k) · B (k×n)` for operands given by (slice, row stride,
/// column stride); `C` is row-major.
fn gemm<T: Element>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], usize, usize),
    b: (&[T], usize, usize),
    c: &mut [T],
) {
    let last = |rows: usize, cols: usize, (s, rs, cs): (&[T], usize, usize)| {
        rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < s.len()
    };
    assert!(
        last(m, k, a) && last(k, n, b) && c.len() >= m * n,
        "operands too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: every element addressed by these shapes and strides lies in
    // its slice (checked above), and `c` holds `m × n` elements.
    unsafe {
        T::product(
            m,
            k,
            n,
            a.0.as_ptr(),
            a.1 as isize,
            a.2 as isize,
            b.0.as_ptr(),
            b.1 as isize,
            b.2 as isize,
            c.as_mut_ptr(),
            n as isize,
        );
    }
}

/// `C (m×n) = A (m×k) · Bᵀ`, with `B` stored `n×k` row-major.
pub fn a_bt<T: Element>(a: &[T], m: usize, k: usize, b: &[T], n: usize, c: &mut [T]) {
    gemm(m, k, n, (a, k, 1), (b, 1, k), c);
}

/// `C (m×n) = A (m×k) · B (k×n)`, all row-major.
pub fn a_b(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    gemm(m, k, n, (a, k, 1), (b, n, 1), c);
}

/// `C (k×n) = Aᵀ · B`, with `A` stored `m×k` and `B` stored `m×n`, row-major.
pub fn at_b(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    gemm(k, m, n, (a, 1, k), (b, n, 1), c);
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
        let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        let mut c64 = [0.0f64; 4];
        a_bt(&a64, 2, 3, &b64, 2, &mut c64);
        assert_eq!(c64, [4.0, 2.0, 10.0, 5.0]);
    }
}
