//! A cursor over a binary file's bytes, reading numbers in the file's byte
//! order (Stata's and SPSS's files are written in either).

/// Where a reader is in a file's bytes, and the file's byte order.
pub(super) struct Cursor<'a> {
    pub(super) data: &'a [u8],
    pub(super) at: usize,
    pub(super) big: bool,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8], at: usize, big: bool) -> Self {
        Cursor { data, at, big }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("the file ends early (cut short?)")?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// An unsigned number of `n` (up to 8) bytes.
    pub(super) fn uint(&mut self, n: usize) -> Result<u64, String> {
        let b = self.take(n)?;
        Ok(self.number(b))
    }

    /// `b` (up to 8 bytes) as an unsigned number in the file's byte order.
    pub(super) fn number(&self, b: &[u8]) -> u64 {
        number(b, self.big)
    }

    pub(super) fn i32(&mut self) -> Result<i32, String> {
        Ok(self.uint(4)? as u32 as i32)
    }

    pub(super) fn i64(&mut self) -> Result<i64, String> {
        Ok(self.uint(8)? as i64)
    }

    /// A count: a non-negative 32-bit number.
    pub(super) fn count(&mut self) -> Result<usize, String> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| format!("a count of {n}"))
    }

    /// 8 bytes as a double in the file's byte order.
    pub(super) fn double(&self, b: &[u8]) -> f64 {
        f64::from_bits(self.number(b))
    }

    /// The bytes of `tag`, or an error naming where they are missing.
    pub(super) fn expect(&mut self, tag: &str) -> Result<(), String> {
        if self.take(tag.len())? == tag.as_bytes() {
            Ok(())
        } else {
            Err(format!("`{tag}` missing at byte {}", self.at - tag.len()))
        }
    }
}

/// `b` (up to 8 bytes) as an unsigned number, big- or little-endian.
pub(super) fn number(b: &[u8], big: bool) -> u64 {
    let fold = |v: u64, &x: &u8| (v << 8) | u64::from(x);
    if big {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}
