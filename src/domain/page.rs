//! Pages of a list: a cursor (the last id seen) and a size. Keyset pages stay stable while
//! new items are added: a new poll only ever lands after the last page.

/// Items on a page when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The most items a client may ask for on one page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page: the items after `after` (by id), at most `size` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// The last id of the previous page; `None` for the first page.
    pub after: Option<i64>,
    /// How many items at most.
    pub size: u32,
}

impl Page {
    /// A page as a client asked for it: a missing size is the default; a size of 0 or over
    /// [`MAX_PAGE_SIZE`] is refused with a message.
    pub fn parse(after: Option<i64>, size: Option<u32>) -> Result<Self, String> {
        match size.unwrap_or(DEFAULT_PAGE_SIZE) {
            0 => Err("limit must be at least 1.".into()),
            size if size > MAX_PAGE_SIZE => Err(format!("limit can be at most {MAX_PAGE_SIZE}.")),
            size => Ok(Self { after, size }),
        }
    }

    /// The cursor of the next page (this page's last id), if `item_ids` (this page's ids,
    /// in order) filled this page.
    pub fn next_after(self, item_ids: impl ExactSizeIterator<Item = i64>) -> Option<i64> {
        let full = item_ids.len() >= self.size as usize;
        full.then(|| item_ids.last()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded_and_defaulted() {
        assert_eq!(Page::parse(None, None), Ok(Page { after: None, size: DEFAULT_PAGE_SIZE }));
        assert_eq!(Page::parse(Some(7), Some(5)), Ok(Page { after: Some(7), size: 5 }));
        assert!(Page::parse(None, Some(0)).is_err());
        assert!(Page::parse(None, Some(MAX_PAGE_SIZE + 1)).expect_err("too big").contains("at most 100"));
    }

    #[test]
    fn a_full_page_has_a_next_one_and_a_short_page_does_not() {
        let page = Page { after: None, size: 3 };
        assert_eq!(page.next_after([4, 5, 9].into_iter()), Some(9));
        assert_eq!(page.next_after([4, 5].into_iter()), None);
        assert_eq!(page.next_after(std::iter::empty()), None);
    }
}
