//! Text as a person reads it: what is stored, what counts as blank, what counts as the same.

use unicode_normalization::UnicodeNormalization;

/// Why a text was refused before any other check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// A control character (NUL, BEL, ESC…), which cannot be shown.
    Control(char),
    /// A bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069),
    /// which can make text read in another order than it was written ("Trojan Source").
    Bidi(char),
}

impl TextProblem {
    /// The problem in words, after `subject` ("The question", "Option 2").
    pub fn describe(self, subject: &str) -> String {
        match self {
            Self::Control(c) => format!(
                "{subject} contains a control character (U+{:04X}), which cannot be shown: remove it.",
                u32::from(c)
            ),
            Self::Bidi(c) => format!(
                "{subject} contains a bidirectional control character (U+{:04X}), which can make text read in \
                 another order than it was written: remove it.",
                u32::from(c)
            ),
        }
    }
}

/// Embeddings, overrides and isolates of the bidirectional algorithm. The marks (U+200E,
/// U+200F, U+061C) stay allowed: they cannot reorder a run of text, only nudge one.
fn is_bidi_control(c: char) -> bool {
    matches!(u32::from(c), 0x202A..=0x202E | 0x2066..=0x2069)
}

/// The text to store: control characters and bidirectional controls refused (tabs and
/// line breaks are white space),
/// white space runs folded into one space and trimmed, Unicode in its composed form (NFC),
/// so the same words typed two ways are stored the same.
pub fn clean(raw: &str) -> Result<String, TextProblem> {
    if let Some(c) = raw.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(TextProblem::Control(c));
    }
    if let Some(c) = raw.chars().find(|c| is_bidi_control(*c)) {
        return Err(TextProblem::Bidi(c));
    }
    let folded = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(folded.nfc().collect())
}

/// Characters that show nothing: zero-width spaces and joiners, direction marks, word
/// joiners, variation selectors, fillers, tags. They stay in stored text (an emoji sequence
/// needs its joiners) but count for nothing when judging blank or alike.
pub fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x206F | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
            | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF
    )
}

/// Whether a cleaned text shows nothing once invisible characters are removed.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// The key two texts are compared by: compatibility forms and widths folded (NFKC),
/// invisible characters dropped, fully case folded (`ß` is `ss`), then reduced to their
/// confusable skeleton (UTS #39: a Cyrillic `е` is a Latin `e`), white space folded.
/// Texts with equal keys read the same to a person.
pub fn comparison_key(text: &str) -> String {
    let visible: String = text.nfkc().filter(|c| !is_invisible(*c)).collect();
    let folded = caseless::default_case_fold_str(&visible);
    let skeleton: String = unicode_security::confusable_detection::skeleton(&folded).collect();
    skeleton.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_composed_and_tidy_and_control_characters_are_refused() {
        let cases = [
            ("plain", "Tea", Ok("Tea".to_owned())),
            ("white space folded", "  Tea\n or\tcoffee ", Ok("Tea or coffee".to_owned())),
            ("decomposed é composed", "Cafe\u{301}", Ok("Caf\u{e9}".to_owned())),
            ("NUL", "Tea\u{0}", Err(TextProblem::Control('\u{0}'))),
            ("bell", "\u{7}ring", Err(TextProblem::Control('\u{7}'))),
            ("escape", "\u{1b}[31mred", Err(TextProblem::Control('\u{1b}'))),
            ("C1 control", "a\u{85}b", Err(TextProblem::Control('\u{85}'))),
            ("right-to-left override", "Yes\u{202E}oN", Err(TextProblem::Bidi('\u{202E}'))),
            ("left-to-right embedding", "\u{202A}Tea", Err(TextProblem::Bidi('\u{202A}'))),
            ("first strong isolate", "a\u{2068}b\u{2069}", Err(TextProblem::Bidi('\u{2068}'))),
            ("pop directional isolate", "a\u{2069}", Err(TextProblem::Bidi('\u{2069}'))),
            ("a right-to-left mark stays", "\u{5E9}\u{200F}!", Ok("\u{5E9}\u{200F}!".to_owned())),
        ];
        for (description, raw, expected) in cases {
            assert_eq!(clean(raw), expected, "{description}");
        }
        assert!(TextProblem::Control('\u{0}').describe("The question").contains("U+0000"));
        assert!(TextProblem::Bidi('\u{202E}').describe("Option 2").starts_with("Option 2 contains a bidirectional"));
    }

    #[test]
    fn text_of_invisible_characters_only_is_blank() {
        let cases = [
            ("empty", "", true),
            ("zero-width space", "\u{200B}", true),
            ("joiners and marks", "\u{200D}\u{200E}\u{2060}\u{FEFF}", true),
            ("hangul filler", "\u{3164}", true),
            ("braille blank", "\u{2800}", true),
            ("ideographic space", "\u{3000}", true),
            ("a letter among them", "\u{200B}a\u{200B}", false),
            ("an emoji", "\u{2764}\u{FE0F}", false),
        ];
        for (description, text, blank) in cases {
            assert_eq!(is_blank(text), blank, "{description}");
        }
    }

    #[test]
    fn texts_that_read_the_same_compare_equal() {
        let same = [
            ("case", "Yes", "YES"),
            ("full width", "Yes", "Ｙｅｓ"),
            ("compatibility ligature", "office", "o\u{FB03}ce"),
            ("zero-width space inside", "Yes", "Y\u{200B}es"),
            ("composed and decomposed", "Café", "Cafe\u{301}"),
            ("white space", "New  York", " new york "),
            ("a Cyrillic е among Latin letters", "Yes", "Y\u{435}s"),
            ("a Greek omicron for an o", "No", "N\u{3BF}"),
            ("full case folding of ß", "Straße", "STRASSE"),
            ("a final sigma", "ΣΟΦΟΣ", "σοφος"),
        ];
        for (description, a, b) in same {
            assert_eq!(comparison_key(a), comparison_key(b), "{description}");
        }
        assert_ne!(comparison_key("Yes"), comparison_key("No"));
        assert_ne!(comparison_key("resume"), comparison_key("résumé"), "accents are letters, not decoration");
        assert_ne!(comparison_key("Tea"), comparison_key("Sea"));
        assert_ne!(comparison_key("Yes"), comparison_key("Yes!"));
    }
}
