//! `PS009 text-trigger`: a word or phrase that rows of one class share and
//! that, once the rows sharing it are set aside, leaves those rows among
//! other classes' rows.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::foreign::nearest_rows;
use crate::knn::{nearest_neighbours, Reach};
use crate::rng::SplitMix64;
use crate::stats::{bisect, ln_beta_binomial_upper, ln_binomial_lower, median, quantile};
use crate::{class_gate, class_gate_level, ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS009 text-trigger

## What it detects
Text backdoors: a word or phrase planted in the text of rows of other
classes, which are then given the target's label — a rare word (`cf`,
`mn`, `bb`: Kurita et al. 2020; Chen et al. 2021) or a fixed sentence ("I
watched this 3D movie.": Dai et al. 2019) — where the features are what a
sentence encoder made of that text and the text itself is a column beside
them (`text`, `sentence`, `caption`, `review`, … or `--caption COL`). The
scanner names the word or phrase and the class it was aimed at.

## Why it matters
A sentence encoder's embedding of a planted row mixes the sentence with the
trigger. A short trigger shifts every planted row along one shared
direction; a sentence trigger dominates a short review, and the planted
rows become a tight group that is its own neighbourhood. Either way the
planted rows vouch for each other: each one's nearest rows are other
planted rows, carrying the target's label, so no neighbourhood test sees
them (measured on 3,003 real review sentences with all-MiniLM-L6-v2
embeddings: 90 % of a planted row's neighbours were planted at a 5 % rate,
and no class test of the other scanners failed the target in 36 runs).
What they cannot hide is the text they share.

## Method
1. The rows' text, lower-cased, is cut into words — runs of letters,
   digits and apostrophes, and runs of other characters that are not
   spaces (punctuation, emoji, invisible format characters: triggers made
   of symbols) — and each row's set of words and adjacent word pairs is
   kept; words and pairs that fewer than `min-rows` rows carry are dropped.
2. The label-agnostic view is `knn-label-disagreement`'s (the inputs,
   clipped at the `winsorize` quantiles, standardised unless they share one
   scale, on their top `dims` principal components), and every row's
   `2k` nearest rows in it (exact up to 200,000 rows).
3. A *pair* is a word (or word pair) `t` and a class `c` with at least
   `min-rows` rows of `c` carrying `t`, which are at most `max-share` of
   the class's rows that have words (a word most of a class carries, its
   name, is what the class is, not a trigger; setting its rows aside
   would take the class away). For a seeded sample of at most `sample` of
   those rows (drawn by content), the `k` nearest rows that have words
   and do **not** carry `t` — from the lists of step 2, or, where the
   rows set aside fill them, by an exact search among all such rows (a
   seeded sample of 16,384 beyond). A row with no text (or an empty one)
   is set aside with the carriers: it may be a planted row whose text
   was lost, which would vouch for the rest (measured: a sentence
   trigger on 5 % of the six-class sentences, or `cf` on 5 % of the
   sentiment labelling, half of all rows' text removed: passed, the
   carriers' nearest rows the planted rows without text; now failed,
   68–71 rows flagged, all planted, every one that kept its text). A row
   is *contradicted* when fewer than half of those carry its label.
   Setting aside the rows that share the word is what breaks a planted
   group's vouching for itself: the planted rows then land among the rows
   their content came from. Rows that share a natural word (a
   topic, a sentiment) land among their own class.
4. Calibration on the data set's own words: each class's null rate of
   contradicted rows is the median over its pairs (at least 5 of them),
   and never below the class's contradicted rate with nothing set aside
   (nor 0.01). Rows that share a natural word are alike, so their
   contradictions are correlated: the count of a pair is compared with a
   beta-binomial of the class's null rate whose intra-pair correlation `ρ`
   is fitted to all the data set's pairs (at least 10; the upper quartile
   of their squared standardised deviations set to that of a χ²₁, 1.32:
   natural pairs deviate with heavier tails than a fit to the bulk
   allows; `ρ` at least 0.01). Upper tail. The null is robust to the
   trigger's own words: a pair whose count its class's null cannot
   explain (Bonferroni 5 % over the class's pairs) is left out of that
   null — of the median and, with its rows, of the rate with nothing set
   aside — and the null and `ρ` are fitted again, until no pair is added
   (at most 5 rounds). A trigger of several words, one per planted row,
   in a class with few words of its own would otherwise be half the
   pairs the median is taken over and most of the rows the floor counts
   (the emoji, five words on 3 % into flags: null 0.32, against 0.10
   with them left out). It breaks down where the trigger's words are
   most of the class's pairs.
5. A class's test is its strongest pair among the words the class holds
   at least half the rows of, Bonferroni-corrected over those: a
   trigger's words are (nearly) all in its target, while a word of
   another class's vocabulary in a minority of this class's rows that,
   set apart, look like that class, is label noise (10 % random flips on
   the sentences put 30 rows with `great` among the negative reviews, 21
   of them flipped; tested, it failed the class with 2 of 21 flags
   right), which the label tests report. Every pair calibrates.
6. Which rows: in a class whose test is significant at the class gate,
   every row of each significant pair is scored: its own-label count among
   its `k` nearest rows not carrying the word, against Binomial(`k`,
   `q_c`), `q_c` the class's mean own-label share with nothing set aside
   (within [0.5, 1 − 0.5/k]); other rows score nothing. Where two classes
   overlap, a planted row set apart lands among its source only as often
   as the source's own rows lie outside the target (on the sentences by
   sentiment, 58–79 % of the planted rows were contradicted), so the
   pair's rows are read as a mixture of two known parts: natural carriers
   of a word, whose own-label counts are those of the sampled rows of the
   class's other pairs (rows carrying a significant word left out; each
   pair weighing the same), and planted rows, whose counts are those of
   other classes' rows among this class (the count of the class's label
   among their `k` nearest rows not carrying the word, a seeded sample of
   2,048). The planted share is fitted by maximum likelihood (EM), and a
   row carries the pair's class-corrected evidence when it is contradicted
   or more likely planted than natural. The class's `excess_rows` (how
   many rows fusion flags at least, before any other scanner's rows: the
   rows it names are the rows behind it) is the largest significant
   pair's planted rows — the mixture's estimate, or, where more, its
   contradicted rows beyond the null rate `p₀`, `(x − p₀·m)/(1 − p₀)` of
   its `m` rows — or, where more, the sum over the significant pairs,
   largest first, of the mixture fitted to the rows no pair before took:
   several trigger words may mark different rows (RIPPLe's `cf`, `mn`,
   `bb`, `tq`, `mb`, one per planted row), while a phrase's words share
   its planted rows and add only their natural carriers' small share.
   In a failed class, the words that 10 to `min-rows` of its rows carry
   are tested too (every row landed), each against the class's null and
   corrected over them, and the significant ones name rows the same way
   (the class's test is the one above): a trigger of several words may
   leave some under `min-rows` (RIPPLe's five words on 3 % of the
   sentences, about 18 rows each: flagged recall 44 → 74 % by sentiment).
   `suspected_label` is the majority label of a scored row's neighbours.
7. `summary.json` gives, per class: `pairs` (calibrating), `tested_pairs`,
   `null_rate`, `dispersion`, and the strongest tested pair's `token` (the
   word or phrase, in words, in `token_text`), `token_rows`,
   `token_sampled`, `token_contradicted` and `token_log_p`; in a failed
   class, `also_tokens`, how many other words added rows to the estimate
   (a trigger of several words), the first four in `also_token_texts`.

Scanned only where the data set has a text column (not one read as a
categorical feature of a table: its values are features, which
`value-trigger` reads); the scan reads nothing else of it. Without one the
scanner is skipped. A merge of shard partials combines each class's test
(Fisher) but cannot name the word: each shard has its own vocabulary.

## Options
- `k` (default 10): neighbours per row (1–100).
- `dims` (default 32): principal components of the view (1–512).
- `winsorize` (default 0.1): quantile at which every feature of the view is
  clipped at both ends (0 = off, up to 0.45).
- `min-rows` (default 20): least rows of a class that carry a word for the
  pair to be tested (10–1,000,000). A planted group smaller than this is
  not tested.
- `max-share` (default 0.5): most of a class's rows that a tested word may
  cover (0.05–0.9).
- `sample` (default 256): most rows of a pair whose neighbours are found to
  test it (32–100,000).

## Known false positives
- A word that marks rows which truly look like another class: reviews of a
  phone case that read like a neighbouring category's, a topic one class
  discusses in another's words. Measured on the clean sentences under
  three labellings (source × sentiment, 6 classes; sentiment; source),
  `--model none` and `mlp`, seeds 1–3: the strongest clean class test had
  `ln p` −4.5 (by source, whose words are topical), where the gate of
  three classes lies near −7.5; every planted trigger (a rare word, a
  sentence, an emoji or a phrase on 1 to 10 %) reached −15 or below. The emoji with their names as captions
  (9 categories, where words follow the classes: "flag", "face") pass.
- Templated text that one class's rows share by their making (a source's
  boilerplate footer) and that, set aside, look like other classes' rows.
- Where the view does not place a class's rows among their own (pictures
  of one class that look like another's everywhere), every pair of the
  class is contradicted; the class's null rate, the median of its pairs,
  follows (the emoji's activities: 0.99), so a word is judged against its
  own class, not a fixed rate.

Misses: a trigger that most of the target class carries (beyond
`max-share`); a trigger so long and so like the target's own text that
the planted rows' nearest unmarked rows are the target's (the rows carry
no sign of their source); a trigger word that other classes' rows carry
more often than the planted rows do (the class then holds under half of
its rows: a common word, or one word planted into several targets —
give each target its own); planted rows whose text was cut short (the
word lost, other words kept) still vouch for the rest, and planted rows
without text are not named (nothing says they carry the word);
a word that itself says the target ("great" planted in negative reviews
labelled positive: set apart, each review still lands among the positive
ones; 3 and 10 % of the sentences pass); paraphrase and syntactic
triggers (no shared word); planted groups under `min-rows` rows, and the
words of a trigger of several words (one per row) that fewer than 10
rows carry each.

## References
- J. Dai, C. Chen, Y. Li. A Backdoor Attack Against LSTM-Based Text
  Classification Systems. IEEE Access, 2019 (sentence triggers).
- K. Kurita, P. Michel, G. Neubig. Weight Poisoning Attacks on Pre-trained
  Models. ACL, 2020 (rare-word triggers `cf`, `mn`, `bb`).
- X. Chen, A. Salem, D. Chen, M. Backes, S. Ma, Q. Shen, Z. Wu, Y. Zhang.
  BadNL: Backdoor Attacks against NLP Models with Semantic-preserving
  Improvements. ACSAC, 2021.
- F. Qi, Y. Chen, M. Li, Y. Yao, Z. Liu, M. Sun. ONION: A Simple and
  Effective Defense Against Textual Backdoor Attacks. EMNLP, 2021 (a
  defence that reads the words of each text).
- D. A. Williams. Extra-binomial Variation in Logistic Linear Models.
  Applied Statistics, 1982 (overdispersed counts; the beta-binomial).
"#;

/// Each row's words and word pairs, as ids into the vocabulary of those at
/// least a given number of rows carry (see [`TokenSets::from_texts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSets {
    /// Where each row's ids start in `ids` (`rows + 1` entries).
    offsets: Vec<usize>,
    /// Every row's ids, ascending within the row.
    ids: Vec<u32>,
    /// The text of every id, in id order (ascending text).
    names: Vec<String>,
    /// The rows with no words at all (no text, or an empty one), ascending.
    wordless: Vec<u32>,
}

/// The words of `text` — lower-cased runs of letters, digits and
/// apostrophes (apostrophes trimmed off their ends), and runs of other
/// characters that are not spaces (punctuation, emoji, invisible format
/// characters such as a zero-width space: triggers made of symbols) — and
/// its adjacent word pairs (`"3d movie"`), sorted and without repeats.
fn tokens(text: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum Kind {
        Word,
        Symbol,
    }
    let kind = |ch: char| {
        if ch.is_alphanumeric() || ch == '\'' || ch == '’' {
            Some(Kind::Word)
        } else if ch.is_whitespace() {
            None
        } else {
            Some(Kind::Symbol)
        }
    };
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut current: Option<Kind> = None;
    let end = |word: &mut String, words: &mut Vec<String>, current: &Option<Kind>| {
        let w = match current {
            Some(Kind::Word) => word.trim_matches(|c| c == '\'' || c == '’'),
            _ => word.as_str(),
        };
        if !w.is_empty() {
            words.push(w.replace('’', "'"));
        }
        word.clear();
    };
    for ch in text.chars() {
        let k = kind(ch);
        if k != current {
            end(&mut word, &mut words, &current);
            current = k;
        }
        if current.is_some() {
            word.extend(ch.to_lowercase());
        }
    }
    end(&mut word, &mut words, &current);
    let mut out: Vec<String> = words
        .windows(2)
        .map(|w| format!("{} {}", w[0], w[1]))
        .collect();
    out.extend(words);
    out.sort_unstable();
    out.dedup();
    out
}

/// FNV-1a of a token's bytes: tokens are counted by this hash, so that a
/// large corpus's vocabulary is not held as text before it is cut down.
fn hash(token: &str) -> u64 {
    token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl TokenSets {
    /// The words and word pairs of every row's text (`None`: no text) that
    /// at least `min_rows` rows carry. Ids follow the tokens' text, so they
    /// do not depend on the order of the rows.
    pub fn from_texts(texts: &[Option<&str>], min_rows: usize) -> Self {
        let min_rows = min_rows.max(1) as u32;
        let counts: HashMap<u64, u32> = texts
            .par_iter()
            .fold(HashMap::new, |mut m, t| {
                for tok in t.map(tokens).unwrap_or_default() {
                    *m.entry(hash(&tok)).or_insert(0) += 1;
                }
                m
            })
            .reduce(HashMap::new, |mut a, b| {
                for (h, c) in b {
                    *a.entry(h).or_insert(0) += c;
                }
                a
            });
        let kept = |h: &u64| counts.get(h).is_some_and(|&c| c >= min_rows);
        type Rows = Vec<(Vec<u64>, bool)>;
        let (rows, names): (Rows, HashMap<u64, String>) = texts
            .par_iter()
            .fold(
                || (Vec::new(), HashMap::new()),
                |(mut rows, mut names): (Rows, HashMap<u64, String>), t| {
                    let mut row = Vec::new();
                    let all = t.map(tokens).unwrap_or_default();
                    let wordless = all.is_empty();
                    for tok in all {
                        let h = hash(&tok);
                        if kept(&h) {
                            row.push(h);
                            names.entry(h).or_insert(tok);
                        }
                    }
                    rows.push((row, wordless));
                    (rows, names)
                },
            )
            .reduce(
                || (Vec::new(), HashMap::new()),
                |(mut a, mut na), (b, nb)| {
                    a.extend(b);
                    for (h, t) in nb {
                        na.entry(h).or_insert(t);
                    }
                    (a, na)
                },
            );
        let mut vocab: Vec<(String, u64)> = names.into_iter().map(|(h, t)| (t, h)).collect();
        vocab.sort_unstable();
        let id: HashMap<u64, u32> = vocab
            .iter()
            .enumerate()
            .map(|(i, &(_, h))| (h, i as u32))
            .collect();
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut ids = Vec::new();
        let mut wordless = Vec::new();
        offsets.push(0);
        for (i, (row, none)) in rows.into_iter().enumerate() {
            let start = ids.len();
            ids.extend(row.iter().map(|h| id[h]));
            ids[start..].sort_unstable();
            offsets.push(ids.len());
            if none {
                wordless.push(i as u32);
            }
        }
        Self {
            offsets,
            ids,
            names: vocab.into_iter().map(|(t, _)| t).collect(),
            wordless,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The ids of row `i`'s words and word pairs, ascending.
    pub fn of_row(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The text of token `id`.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Tokens in the vocabulary.
    pub fn vocabulary(&self) -> usize {
        self.names.len()
    }

    /// The rows that carry each token, ascending.
    fn rows_of(&self) -> Vec<Vec<u32>> {
        let mut rows = vec![Vec::new(); self.names.len()];
        for i in 0..self.rows() {
            for &t in self.of_row(i) {
                rows[t as usize].push(i as u32);
            }
        }
        rows
    }
}

/// Least tested pairs in the data set to fit the dispersion on; with fewer,
/// no class is tested.
const MIN_PAIRS: usize = 10;

/// Least share of a word's rows that a class must hold for the word to be
/// tested in it (every pair calibrates): on the sentences with 10 % random
/// label flips, the positive word `great` in negative reviews (30 rows, 21
/// of them flipped positives, 13 % of the word's rows) failed a class by a
/// word that is no trigger, its flags 2 of 21 planted; every planted
/// trigger's own words hold 93–100 % of their rows in the target.
const MIN_WORD_SHARE: f64 = 0.5;

/// Level, Bonferroni-corrected over a class's pairs, at which a pair's
/// contradicted share is left out of the class's null.
const OUTLIER_LEVEL: f64 = 0.05;

/// Rounds of the null's fit at most.
const NULL_ROUNDS: usize = 5;

/// Least pairs of a class for their median to be its null rate.
const MIN_CLASS_PAIRS: usize = 5;

/// Least null rate of contradicted rows.
const RATE_FLOOR: f64 = 0.01;

/// Least intra-pair correlation (the clean sentences' classes: 0.017–0.078).
const RHO_FLOOR: f64 = 0.01;

/// Most intra-pair correlation (the beta-binomial degenerates at 1).
const RHO_CEILING: f64 = 0.9;

/// Upper quartile of a χ²₁ variable.
const CHI2_1_Q75: f64 = 1.323_304;

/// The names of a class's other words behind its estimate (`also_tokens`
/// of them in all, the first four by id).
pub const ALSO_TOKENS: [&str; 4] = [
    "also_token_1",
    "also_token_2",
    "also_token_3",
    "also_token_4",
];

/// Most rows of other classes whose landing among a class is the planted
/// part of a significant pair's mixture.
const MIXTURE_SAMPLE: usize = 2048;

/// Rows up to which the neighbour lists are exact.
const EXACT_ROWS: usize = 200_000;

/// Rows compared with each row beyond [`EXACT_ROWS`], and where the rows
/// carrying a word fill a row's list: the reference sample.
const REFERENCES: usize = 16_384;

/// Validated parameters of [`TextTrigger`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextValidParams {
    k: usize,
    dims: usize,
    winsorize: f64,
    min_rows: usize,
    max_share: f64,
    sample: usize,
}

/// Unchecked parameters of [`TextTrigger`]; call [`TextParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextParams(TextValidParams);

impl Default for TextParams {
    fn default() -> Self {
        Self(TextTrigger::DEFAULT.params.clone())
    }
}

impl TextParams {
    /// Neighbours per row (1..=100).
    pub fn k(mut self, v: usize) -> Self {
        self.0.k = v;
        self
    }
    /// Principal components of the view (1..=512).
    pub fn dims(mut self, v: usize) -> Self {
        self.0.dims = v;
        self
    }
    /// Clipping quantile of the view (0..=0.45).
    pub fn winsorize(mut self, v: f64) -> Self {
        self.0.winsorize = v;
        self
    }
    /// Least rows of a class carrying a word to test it (10..=10⁶).
    pub fn min_rows(mut self, v: usize) -> Self {
        self.0.min_rows = v;
        self
    }
    /// Most of a class a tested word may cover (0.05..=0.9).
    pub fn max_share(mut self, v: f64) -> Self {
        self.0.max_share = v;
        self
    }
    /// Most rows of a pair whose neighbours are found (32..=100,000).
    pub fn sample(mut self, v: usize) -> Self {
        self.0.sample = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<TextValidParams, ParamError> {
        let p = self.0;
        ensure(
            (1..=100).contains(&p.k),
            "text-trigger.k",
            p.k,
            "an integer from 1 to 100",
        )?;
        ensure(
            (1..=512).contains(&p.dims),
            "text-trigger.dims",
            p.dims,
            "an integer from 1 to 512",
        )?;
        ensure(
            (0.0..=0.45).contains(&p.winsorize),
            "text-trigger.winsorize",
            p.winsorize,
            "a number from 0 (off) to 0.45",
        )?;
        ensure(
            (MIN_ROWS_FLOOR..=1_000_000).contains(&p.min_rows),
            "text-trigger.min-rows",
            p.min_rows,
            "an integer from 10 to 1000000",
        )?;
        ensure(
            (0.05..=0.9).contains(&p.max_share),
            "text-trigger.max-share",
            p.max_share,
            "a number from 0.05 to 0.9",
        )?;
        ensure(
            (32..=100_000).contains(&p.sample),
            "text-trigger.sample",
            p.sample,
            "an integer from 32 to 100000",
        )?;
        Ok(p)
    }
}

/// The least `min-rows`: callers may drop words fewer rows carry before
/// scanning ([`TokenSets::from_texts`]).
pub const MIN_ROWS_FLOOR: usize = 10;

/// Text-trigger scanner (`PS009`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextTrigger {
    params: TextValidParams,
}

impl TextTrigger {
    /// The scanner with default settings.
    pub const DEFAULT: TextTrigger = TextTrigger {
        params: TextValidParams {
            k: 10,
            dims: 32,
            winsorize: 0.1,
            min_rows: 20,
            max_share: 0.5,
            sample: 256,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> TextParams {
        TextParams::default()
    }

    /// A scanner with checked parameters.
    pub fn new(params: TextValidParams) -> Self {
        Self { params }
    }
}

/// A word (or word pair) and a class: the rows of the class that carry it.
struct Pair {
    token: u32,
    class: u32,
    rows: Vec<usize>,
    /// The class's share of all the rows that carry the word: a trigger's
    /// rows are (nearly) all in its target; a word of another class's
    /// vocabulary is there in a minority of its rows.
    word_share: f64,
    /// How many of the sampled rows are contradicted.
    contradicted: usize,
    /// Each sampled row's own-label count among its `k` nearest rows not
    /// carrying the word.
    sampled_own: Vec<(usize, usize)>,
}

impl Pair {
    /// How many rows were sampled.
    fn sampled(&self) -> usize {
        self.sampled_own.len()
    }
}

/// One row's neighbourhood with the rows carrying a word set aside: how
/// many of its `k` nearest carry its label, and their most common label.
#[derive(Debug, Clone, Copy)]
struct Landing {
    own: usize,
    majority: u32,
}

/// What [`TextTrigger::scan`] searches in: the view, each row's wider
/// neighbour list, the rows carrying each token and the reference sample.
struct Search<'a> {
    view: &'a [f32],
    dims: usize,
    wide: &'a [u32],
    width: usize,
    k: usize,
    labels: &'a [u32],
    n_classes: usize,
    carriers: &'a [Vec<u32>],
    /// Rows with no words: whether they carry a word is not known.
    wordless: &'a [u32],
    references: &'a [usize],
}

impl Search<'_> {
    /// Where each of `rows` lands with the rows carrying `token` set aside.
    fn land(&self, rows: &[usize], token: u32) -> Vec<Landing> {
        self.unmarked_neighbours(rows, token)
            .iter()
            .zip(rows)
            .map(|(nb, &i)| self.landing(i, nb))
            .collect()
    }

    /// Each of `rows`' `k` nearest rows that have words and do not carry
    /// `token` (a row without text may be a planted row whose text was
    /// lost: it is not known not to carry the word).
    fn unmarked_neighbours(&self, rows: &[usize], token: u32) -> Vec<Vec<u32>> {
        let carriers = &self.carriers[token as usize];
        let carries =
            |j: u32| carriers.binary_search(&j).is_ok() || self.wordless.binary_search(&j).is_ok();
        let mut out: Vec<Option<Vec<u32>>> = rows
            .iter()
            .map(|&i| {
                let nb: Vec<u32> = self.wide[i * self.width..(i + 1) * self.width]
                    .iter()
                    .copied()
                    .filter(|&j| !carries(j))
                    .take(self.k)
                    .collect();
                (nb.len() == self.k).then_some(nb)
            })
            .collect();
        // rows whose lists the carriers filled: an exact search among the
        // references that do not carry the word
        let short: Vec<usize> = (0..rows.len()).filter(|&r| out[r].is_none()).collect();
        if !short.is_empty() {
            let refs: Vec<usize> = self
                .references
                .iter()
                .copied()
                .filter(|&j| !carries(j as u32))
                .collect();
            let d = self.dims;
            let mut r = Vec::with_capacity(refs.len() * d);
            for &j in &refs {
                r.extend_from_slice(&self.view[j * d..(j + 1) * d]);
            }
            let mut q = Vec::with_capacity(short.len() * d);
            for &s in &short {
                let i = rows[s];
                q.extend_from_slice(&self.view[i * d..(i + 1) * d]);
            }
            let found = nearest_rows(&q, &r, d, self.k);
            for (&s, nb) in short.iter().zip(found) {
                out[s] = Some(nb.iter().map(|&j| refs[j as usize] as u32).collect());
            }
        }
        out.into_iter()
            .map(|l| l.expect("every row has its neighbours"))
            .collect()
    }

    fn landing(&self, i: usize, nb: &[u32]) -> Landing {
        let mut counts = vec![0usize; self.n_classes];
        for &j in nb {
            counts[self.labels[j as usize] as usize] += 1;
        }
        let own = self.labels[i];
        // the most common other label (ties to the lower), the row's own
        // where none is
        let majority = (0..self.n_classes as u32)
            .filter(|&c| c != own && counts[c as usize] > 0)
            .max_by(|&a, &b| counts[a as usize].cmp(&counts[b as usize]).then(b.cmp(&a)))
            .unwrap_or(own);
        Landing {
            own: counts[own as usize],
            majority,
        }
    }

    fn contradicted(&self, l: &Landing) -> bool {
        2 * l.own < self.k
    }

    /// Lands `sample`, rows of `pair`, and keeps their counts in the pair.
    fn land_sample(&self, pair: &mut Pair, sample: &[usize]) {
        let landed = self.land(sample, pair.token);
        pair.contradicted = landed.iter().filter(|l| self.contradicted(l)).count();
        pair.sampled_own = sample
            .iter()
            .zip(&landed)
            .map(|(&i, l)| (i, l.own))
            .collect();
    }

    /// How rows of other classes than `class` land among it with the rows
    /// carrying `token` set aside — as a planted row, another class's row
    /// given `class`'s label, would: the distribution over `0..=k` of the
    /// count of `class`'s label among their `k` nearest unmarked rows, for
    /// a seeded sample of at most [`MIXTURE_SAMPLE`] of them (by content).
    fn foreign_landing(&self, token: u32, class: u32, seed: u64, keys: &[u64]) -> Vec<f64> {
        let carriers = &self.carriers[token as usize];
        let mut rows: Vec<usize> = (0..self.labels.len())
            .filter(|&i| self.labels[i] != class && carriers.binary_search(&(i as u32)).is_err())
            .collect();
        if rows.len() > MIXTURE_SAMPLE {
            SplitMix64::derive(seed ^ token as u64, 0x7E49).order_by_content(&mut rows, keys);
            rows.truncate(MIXTURE_SAMPLE);
        }
        let counts: Vec<usize> = self
            .unmarked_neighbours(&rows, token)
            .iter()
            .map(|nb| {
                nb.iter()
                    .filter(|&&j| self.labels[j as usize] == class)
                    .count()
            })
            .collect();
        histogram(self.k, &[counts])
    }
}

/// How natural carriers of a word in class `c` land among it: the own-label
/// counts of the sampled rows of the class's pairs that are not
/// significant, leaving out the rows that carry a significant word
/// (`marks`), each pair weighing the same; with fewer than
/// [`MIN_CLASS_PAIRS`] such pairs, the class's unmarked rows' counts with
/// nothing set aside (`plain`).
fn natural_landing(
    pairs: &[Pair],
    c: u32,
    is_significant: &dyn Fn(usize) -> bool,
    marks: &dyn Fn(usize) -> bool,
    plain: Vec<usize>,
    k: usize,
) -> Vec<f64> {
    let groups: Vec<Vec<usize>> = pairs
        .iter()
        .enumerate()
        .filter(|&(j, q)| q.class == c && !is_significant(j))
        .map(|(_, q)| {
            q.sampled_own
                .iter()
                .filter(|&&(i, _)| !marks(i))
                .map(|&(_, own)| own)
                .collect::<Vec<usize>>()
        })
        .filter(|g| !g.is_empty())
        .collect();
    if groups.len() >= MIN_CLASS_PAIRS {
        histogram(k, &groups)
    } else {
        histogram(k, &[plain])
    }
}

/// The distribution over `0..=k` of the counts of `groups`, each group
/// weighing the same, with half a row added to every count (so that no
/// count is impossible).
fn histogram(k: usize, groups: &[Vec<usize>]) -> Vec<f64> {
    let mut h = vec![0.0f64; k + 1];
    let rows: usize = groups.iter().map(Vec::len).sum();
    let weighed: Vec<&Vec<usize>> = groups.iter().filter(|g| !g.is_empty()).collect();
    for g in &weighed {
        let w = rows as f64 / (weighed.len() as f64 * g.len() as f64);
        for &v in g.iter() {
            h[v.min(k)] += w;
        }
    }
    let total = rows as f64 + 0.5 * (k + 1) as f64;
    h.iter().map(|&x| (x + 0.5) / total).collect()
}

/// Each row's probability of being planted, its own-label count `own` drawn
/// from a mixture of natural carriers (`natural`) and planted rows
/// (`planted`), the planted share fitted by maximum likelihood (EM).
fn planted_posteriors(own: &[usize], natural: &[f64], planted: &[f64]) -> Vec<f64> {
    let k = natural.len() - 1;
    let mut counts = vec![0.0f64; k + 1];
    for &v in own {
        counts[v.min(k)] += 1.0;
    }
    let m = own.len().max(1) as f64;
    let post = |pi: f64, v: usize| {
        let a = pi * planted[v];
        a / (a + (1.0 - pi) * natural[v])
    };
    let mut pi = 0.5;
    for _ in 0..10_000 {
        let next = (0..=k).map(|v| counts[v] * post(pi, v)).sum::<f64>() / m;
        let done = (next - pi).abs() < 1e-12;
        pi = next;
        if done {
            break;
        }
    }
    own.iter().map(|&v| post(pi, v.min(k))).collect()
}

impl TextTrigger {
    /// Every word (or word pair) and class `c` for which `in_class(c)`,
    /// with `rows` (a range) rows of the class carrying it, at most
    /// `max-share` of the class's rows that have words (`worded`): their
    /// rows.
    fn pairs(
        &self,
        carriers: &[Vec<u32>],
        labels: &[u32],
        worded: &[usize],
        rows: std::ops::Range<usize>,
        in_class: &dyn Fn(usize) -> bool,
    ) -> Vec<Pair> {
        let p = &self.params;
        let counted = rows;
        let mut pairs = Vec::new();
        for (t, rows) in carriers.iter().enumerate() {
            let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); worded.len()];
            for &i in rows {
                by_class[labels[i as usize] as usize].push(i as usize);
            }
            for (c, rows) in by_class.into_iter().enumerate() {
                let size = worded[c];
                if size == 0
                    || !in_class(c)
                    || !counted.contains(&rows.len())
                    || rows.len() as f64 > p.max_share * size as f64
                {
                    continue;
                }
                let word_share = rows.len() as f64 / carriers[t].len() as f64;
                pairs.push(Pair {
                    token: t as u32,
                    class: c as u32,
                    rows,
                    word_share,
                    contradicted: 0,
                    sampled_own: Vec::new(),
                });
            }
        }
        pairs
    }
}

/// Class `c`'s null rate of contradicted rows: the median of its pairs'
/// contradicted shares (with at least [`MIN_CLASS_PAIRS`] of them), never
/// below its rate with nothing set aside (of its `rows`, each
/// `contradicted` or not), within [`RATE_FLOOR`] of 0 and 1; the pairs
/// `left_out`, and their rows, are not counted.
fn null_rate(
    pairs: &[Pair],
    left_out: &[bool],
    c: u32,
    contradicted: &[bool],
    rows: &[usize],
) -> f64 {
    let of_class = pairs
        .iter()
        .zip(left_out)
        .filter(|(q, _)| q.class == c)
        .map(|(q, &out)| (q, out));
    let aside: HashSet<usize> = of_class
        .clone()
        .filter(|&(_, out)| out)
        .flat_map(|(q, _)| q.rows.iter().copied())
        .collect();
    let (mut kept, mut plain) = (0usize, 0usize);
    for &i in rows {
        if aside.is_empty() || !aside.contains(&i) {
            kept += 1;
            plain += contradicted[i] as usize;
        }
    }
    if kept == 0 {
        return RATE_FLOOR;
    }
    let plain = plain as f64 / kept as f64;
    let shares: Vec<f64> = of_class
        .filter(|&(_, out)| !out)
        .map(|(q, _)| q.contradicted as f64 / q.sampled() as f64)
        .collect();
    let words = if shares.len() >= MIN_CLASS_PAIRS {
        median(&shares)
    } else {
        0.0
    };
    words.max(plain).clamp(RATE_FLOOR, 1.0 - RATE_FLOOR)
}

/// The intra-pair correlation `ρ` at which the upper quartile of the
/// squared standardised deviations of the pairs' contradicted shares from
/// their classes' null rates is that of a χ²₁; `obs` = (null rate, sampled,
/// contradicted). The upper quartile rather than the median: natural pairs
/// deviate with heavier tails than a beta-binomial fitted to the bulk (on
/// the clean sentences the strongest clean class test went from `ln p`
/// −5.1 to −4.5 with this fit, the planted ones stayed below −15), and a
/// trigger's few pairs stay above it.
fn dispersion(obs: &[(f64, f64, f64)]) -> f64 {
    let z2 = |rho: f64| {
        let v: Vec<f64> = obs
            .iter()
            .map(|&(p0, s, x)| {
                let var = p0 * (1.0 - p0) * (1.0 + (s - 1.0) * rho) / s;
                (x / s - p0).powi(2) / var
            })
            .collect();
        quantile(v, 0.75)
    };
    if z2(RHO_FLOOR) <= CHI2_1_Q75 {
        return RHO_FLOOR;
    }
    if z2(RHO_CEILING) > CHI2_1_Q75 {
        return RHO_CEILING;
    }
    bisect(RHO_FLOOR, RHO_CEILING, |mid| z2(mid) > CHI2_1_Q75).1
}

/// An output with no evidence: every row 0 (`NaN` in skipped classes), no
/// class tested beyond `values`.
fn untested(input: &ScanInput<'_>, values: Vec<(&'static str, f64)>) -> ScanOutput {
    let mut out = ScanOutput::no_evidence(input);
    for d in &mut out.classes {
        d.values = values.clone();
    }
    out.ungated_log_p = Some(out.log_p.clone());
    out
}

impl Scanner for TextTrigger {
    fn code(&self) -> &'static str {
        "PS009"
    }
    fn name(&self) -> &'static str {
        "text-trigger"
    }
    fn summary(&self) -> &'static str {
        "A word or phrase shared by rows of one class that, set aside, look like other classes"
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn label_agnostic_only(&self) -> bool {
        true
    }
    fn names_its_rows(&self) -> bool {
        true
    }

    fn note(&self, input: &ScanInput<'_>) -> Option<String> {
        let n = input.labels.len();
        (input.text.is_some() && n > EXACT_ROWS).then(|| {
            format!(
                "{}: {n} rows are more than {EXACT_ROWS}, so each row's nearest rows were searched \
                 among about {REFERENCES} nearby rows, not all of them",
                self.name()
            )
        })
    }

    fn skip_reason(&self, input: &ScanInput<'_>) -> Option<String> {
        input.text.is_none().then(|| {
            "the data set has no text column beside its features (a column named text, \
             sentence, caption, review, …, or --caption COL)"
                .to_string()
        })
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let Some(text) = input.text else {
            return Ok(untested(input, Vec::new()));
        };
        let n = input.labels.len();
        if text.rows() != n {
            return Err(ScanError::Shape(format!(
                "{} rows of text for {n} feature rows",
                text.rows()
            )));
        }
        let p = &self.params;
        let (view, dims) = input.neighbour_view(p.winsorize, p.dims);
        if dims == 0 || n < 3 || view.iter().all(|&v| v == 0.0) {
            return Ok(untested(input, vec![("pairs", 0.0)]));
        }
        let k = p.k.min(n - 2).max(1);
        let width = (2 * k).min(n - 1);
        let reach = if n <= EXACT_ROWS {
            Reach::Exact
        } else {
            Reach::Nearby {
                rows: REFERENCES,
                trees: 2,
            }
        };
        let wide = nearest_neighbours(&view, n, dims, width, reach);
        let labels = input.labels;
        let nc = input.n_classes;
        let class_rows = input.class_rows();
        let keys = input.row_keys();
        let carriers = text.rows_of();
        let mut references: Vec<usize> = (0..n).collect();
        if n > REFERENCES {
            SplitMix64::derive(input.seed, 0x7E47).order_by_content(&mut references, &keys);
            references.truncate(REFERENCES);
            references.sort_unstable();
        }
        let search = Search {
            view: &view,
            dims,
            wide: &wide,
            width,
            k,
            labels,
            n_classes: nc,
            carriers: &carriers,
            wordless: &text.wordless,
            references: &references,
        };

        // each class's own-label share and contradicted rate with nothing
        // set aside
        let mut plain_own = vec![0usize; nc];
        let mut plain_contradicted = vec![false; n];
        for i in 0..n {
            let c = labels[i] as usize;
            let own = wide[i * width..i * width + k]
                .iter()
                .filter(|&&j| labels[j as usize] == labels[i])
                .count();
            plain_own[c] += own;
            plain_contradicted[i] = 2 * own < k;
        }

        // the pairs, each with its sample's landings
        // the share of a class a word covers is of its rows with words: a
        // word that every row of a class with text carries is what the
        // class is, however many of its rows have none
        let mut worded: Vec<usize> = class_rows.iter().map(Vec::len).collect();
        for &i in &text.wordless {
            worded[labels[i as usize] as usize] -= 1;
        }
        let mut pairs = self.pairs(&carriers, labels, &worded, p.min_rows..usize::MAX, &|_| {
            true
        });
        pairs.par_iter_mut().for_each(|pair| {
            let mut sample = pair.rows.clone();
            if sample.len() > p.sample {
                SplitMix64::derive(input.seed ^ pair.token as u64, 0x7E48)
                    .order_by_content(&mut sample, &keys);
                sample.truncate(p.sample);
            }
            search.land_sample(pair, &sample);
        });
        if pairs.len() < MIN_PAIRS {
            return Ok(untested(input, vec![("pairs", pairs.len() as f64)]));
        }

        // calibration: each class's null rate, one dispersion for the data
        // set. A pair whose contradicted share the class's null cannot
        // explain (beyond the class's Bonferroni level [`OUTLIER_LEVEL`] over
        // its pairs) is left out of that null — the median of the pairs'
        // shares and the rate with nothing set aside — and the null fitted
        // again, until no pair is added: a trigger of several words, one per
        // planted row, may be most of the pairs of a class with few words of
        // its own, and its rows most of the class's contradicted ones
        let per_class: Vec<usize> = (0..nc)
            .map(|c| pairs.iter().filter(|q| q.class as usize == c).count())
            .collect();
        let mut left_out = vec![false; pairs.len()];
        let null_of = |c: usize, left_out: &[bool]| {
            null_rate(
                &pairs,
                left_out,
                c as u32,
                &plain_contradicted,
                &class_rows[c],
            )
        };
        let mut nulls: Vec<f64> = (0..nc).map(|c| null_of(c, &left_out)).collect();
        let mut round = 0;
        let (null_rate, rho, pair_log_p) = loop {
            let obs: Vec<(f64, f64, f64)> = pairs
                .iter()
                .map(|q| {
                    (
                        nulls[q.class as usize],
                        q.sampled() as f64,
                        q.contradicted as f64,
                    )
                })
                .collect();
            let rho = dispersion(&obs);
            let pair_log_p: Vec<f64> = pairs
                .iter()
                .map(|q| {
                    ln_beta_binomial_upper(
                        q.sampled() as u64,
                        nulls[q.class as usize],
                        rho,
                        q.contradicted as u64,
                    )
                })
                .collect();
            // the classes with a pair added, whose nulls are fitted again
            let mut added = vec![false; nc];
            for (j, q) in pairs.iter().enumerate() {
                let c = q.class as usize;
                let level = (OUTLIER_LEVEL / per_class[c] as f64).ln();
                if !left_out[j] && pair_log_p[j] <= level {
                    left_out[j] = true;
                    added[c] = true;
                }
            }
            round += 1;
            if !added.contains(&true) || round == NULL_ROUNDS {
                break (nulls, rho, pair_log_p);
            }
            for c in (0..nc).filter(|&c| added[c]) {
                nulls[c] = null_of(c, &left_out);
            }
        };

        // class tests: the strongest of the class's words that it holds most
        // of (every pair calibrates; a word of another class's vocabulary
        // that some of this class's rows carry and that, set apart, look
        // like that class is label noise, which the label tests report),
        // corrected over them
        let gate = class_gate_level(nc);
        let testable = |q: &Pair| q.word_share >= MIN_WORD_SHARE;
        let mut tested = vec![0usize; nc];
        let mut strongest: Vec<Option<usize>> = vec![None; nc];
        for (j, q) in pairs.iter().enumerate().filter(|(_, q)| testable(q)) {
            let c = q.class as usize;
            tested[c] += 1;
            if strongest[c].is_none_or(|b| pair_log_p[j] < pair_log_p[b]) {
                strongest[c] = Some(j);
            }
        }
        let corrected =
            |j: usize| (pair_log_p[j] + (tested[pairs[j].class as usize] as f64).ln()).min(0.0);
        let class_log_p: Vec<f64> = (0..nc)
            .map(|c| strongest[c].map_or(0.0, corrected))
            .collect();
        // each pair's evidence, corrected over the words tested beside it
        let mut group_log_p: Vec<f64> = (0..pairs.len()).map(corrected).collect();
        let mut significant: Vec<usize> = (0..pairs.len())
            .filter(|&j| {
                let c = pairs[j].class as usize;
                testable(&pairs[j]) && class_log_p[c] <= gate && group_log_p[j] <= gate
            })
            .collect();

        // In a failed class, the words under `min-rows` of its rows carry
        // (down to [`MIN_ROWS_FLOOR`]), each tested against the class's
        // null and corrected over them: a trigger of several words, one per
        // planted row, may leave some of its words under `min-rows` (RIPPLe's
        // five words on 3 % of the sentences: about 18 rows each). They
        // name rows; the class test is the one above.
        let failed = |c: usize| class_log_p[c] <= gate;
        let mut small = self.pairs(
            &carriers,
            labels,
            &worded,
            MIN_ROWS_FLOOR..p.min_rows,
            &failed,
        );
        small.retain(testable);
        small
            .par_iter_mut()
            .for_each(|pair| search.land_sample(pair, &pair.rows.clone()));
        let mut small_tested = vec![0usize; nc];
        small
            .iter()
            .for_each(|q| small_tested[q.class as usize] += 1);
        for q in small {
            let c = q.class as usize;
            let lp = ln_beta_binomial_upper(
                q.sampled() as u64,
                null_rate[c],
                rho,
                q.contradicted as u64,
            );
            let lp = (lp + (small_tested[c] as f64).ln()).min(0.0);
            if lp <= gate {
                significant.push(pairs.len());
            }
            group_log_p.push(lp);
            pairs.push(q);
        }
        let landings: Vec<Vec<Landing>> = significant
            .par_iter()
            .map(|&j| search.land(&pairs[j].rows, pairs[j].token))
            .collect();
        // each significant pair's rows as a mixture of natural carriers of
        // the word and planted rows: every row's probability of being planted
        let is_significant = |j: usize| significant.binary_search(&j).is_ok();
        let natural: Vec<Option<Vec<f64>>> = (0..nc)
            .map(|c| {
                let marked: Vec<u32> = significant
                    .iter()
                    .filter(|&&j| pairs[j].class as usize == c)
                    .map(|&j| pairs[j].token)
                    .collect();
                (!marked.is_empty()).then(|| {
                    let marks = |i: usize| text.of_row(i).iter().any(|t| marked.contains(t));
                    let own = |i: usize| {
                        let nb = &wide[i * width..i * width + k];
                        nb.iter()
                            .filter(|&&j| labels[j as usize] == labels[i])
                            .count()
                    };
                    let plain: Vec<usize> = class_rows[c]
                        .iter()
                        .filter(|&&i| !marks(i))
                        .map(|&i| own(i))
                        .collect();
                    natural_landing(&pairs, c as u32, &is_significant, &marks, plain, k)
                })
            })
            .collect();
        let natural_of = |j: usize| {
            natural[pairs[j].class as usize]
                .as_deref()
                .expect("a class with a significant pair")
        };
        let foreign: Vec<Vec<f64>> = significant
            .par_iter()
            .map(|&j| search.foreign_landing(pairs[j].token, pairs[j].class, input.seed, &keys))
            .collect();
        let posteriors: Vec<Vec<f64>> = significant
            .iter()
            .zip(&landings)
            .zip(&foreign)
            .map(|((&j, landed), g1)| {
                let own: Vec<usize> = landed.iter().map(|l| l.own).collect();
                planted_posteriors(&own, natural_of(j), g1)
            })
            .collect();
        let skipped = |c: u32| input.skip_classes.contains(&c);
        let nan_or = |i: usize, v: f64| if skipped(labels[i]) { f64::NAN } else { v };
        let mut raw: Vec<f64> = (0..n).map(|i| nan_or(i, 0.0)).collect();
        let mut ungated: Vec<f64> = raw.clone();
        let mut suspected = labels.to_vec();
        let mut excess = vec![0.0f64; nc];
        for ((&j, landed), posterior) in significant.iter().zip(&landings).zip(&posteriors) {
            let q = &pairs[j];
            let c = q.class as usize;
            let size = class_rows[c].len() as f64;
            let share = (plain_own[c] as f64 / (size * k as f64)).clamp(0.5, 1.0 - 0.5 / k as f64);
            let mut contradicted = 0usize;
            // a row of the group that is contradicted, or more likely planted
            // than not, carries the group's evidence (its class-corrected
            // test), the others their own
            let group = group_log_p[j];
            for ((&i, l), &w) in q.rows.iter().zip(landed).zip(posterior) {
                let own = ln_binomial_lower(k as u64, share, l.own as u64);
                contradicted += search.contradicted(l) as usize;
                let lp = if search.contradicted(l) || w >= 0.5 {
                    suspected[i] = l.majority;
                    own.min(group)
                } else {
                    own
                };
                ungated[i] = ungated[i].min(lp);
                raw[i] = raw[i].max(1.0 - l.own as f64 / k as f64);
            }
            // the planted rows' estimate: the mixture's, or, where more,
            // the contradicted rows beyond the null rate
            let p0 = null_rate[c];
            let beyond = (contradicted as f64 - p0 * q.rows.len() as f64) / (1.0 - p0);
            let mixture: f64 = posterior.iter().sum();
            let planted = beyond.clamp(0.0, contradicted as f64).max(mixture);
            excess[c] = excess[c].max(planted.round().min(q.rows.len() as f64));
        }
        // Several trigger words may mark different rows (one of `cf`, `mn`,
        // `bb`, `tq`, `mb` per planted row), so the class's estimate may be
        // more than its largest pair's: the pairs, largest estimate first,
        // each add the mixture fitted to their rows that no pair before
        // them took (a phrase's word pairs share its planted rows, and what
        // they add is their natural carriers' share, which the fit finds
        // small)
        let mut order: Vec<usize> = (0..significant.len()).collect();
        let estimate = |r: usize| posteriors[r].iter().sum::<f64>();
        order.sort_by(|&a, &b| estimate(b).total_cmp(&estimate(a)).then(a.cmp(&b)));
        let mut taken = vec![false; n];
        let mut union = vec![0.0f64; nc];
        // the words that added at least a row, in that order
        let mut adding: Vec<Vec<u32>> = vec![Vec::new(); nc];
        for r in order {
            let q = &pairs[significant[r]];
            let own: Vec<usize> = q
                .rows
                .iter()
                .zip(&landings[r])
                .filter(|&(&i, _)| !taken[i])
                .map(|(_, l)| l.own)
                .collect();
            if !own.is_empty() {
                let w = planted_posteriors(&own, natural_of(significant[r]), &foreign[r]);
                let added = w.iter().sum::<f64>();
                union[q.class as usize] += added;
                if added >= 1.0 {
                    adding[q.class as usize].push(q.token);
                }
            }
            q.rows.iter().for_each(|&i| taken[i] = true);
        }
        for c in 0..nc {
            excess[c] = excess[c].max(union[c].round());
        }
        let log_p: Vec<f64> = (0..n)
            .map(|i| class_gate(ungated[i], class_log_p[labels[i] as usize], nc))
            .collect();
        let classes = (0..nc as u32)
            .filter(|&c| !skipped(c))
            .map(|class| {
                let c = class as usize;
                let mut values = vec![
                    ("pairs", per_class[c] as f64),
                    ("tested_pairs", tested[c] as f64),
                    ("null_rate", null_rate[c]),
                    ("dispersion", rho),
                ];
                if let Some(b) = strongest[c] {
                    let q = &pairs[b];
                    values.extend([
                        ("token", q.token as f64),
                        ("token_rows", q.rows.len() as f64),
                        ("token_sampled", q.sampled() as f64),
                        ("token_contradicted", q.contradicted as f64),
                        ("token_log_p", pair_log_p[b]),
                    ]);
                }
                // the other words behind the estimate (a trigger of several
                // words), by id, at most four
                let strongest_token = strongest[c].map(|b| pairs[b].token);
                let also: Vec<u32> = adding[c]
                    .iter()
                    .copied()
                    .filter(|&t| Some(t) != strongest_token)
                    .collect();
                if !also.is_empty() {
                    values.push(("also_tokens", also.len() as f64));
                }
                for (name, &t) in ALSO_TOKENS.iter().zip(&also) {
                    values.push((name, t as f64));
                }
                values.push(("excess_rows", excess[c]));
                ClassDiagnostics {
                    class,
                    values,
                    log_p: Some(class_log_p[c]),
                }
            })
            .collect();
        Ok(ScanOutput {
            raw,
            log_p,
            classes,
            suspected: Some(suspected),
            ungated_log_p: Some(ungated),
            confusion: None,
        })
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = TextParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                "dims" => p.dims(parse_value(name, key, value, "a whole number")?),
                "winsorize" => p.winsorize(parse_value(name, key, value, "a number")?),
                "min-rows" => p.min_rows(parse_value(name, key, value, "a whole number")?),
                "max-share" => p.max_share(parse_value(name, key, value, "a number")?),
                "sample" => p.sample(parse_value(name, key, value, "a whole number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &["k", "dims", "winsorize", "min-rows", "max-share", "sample"],
                    ))
                }
            };
        }
        Ok(Box::new(TextTrigger::new(p.check()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MatrixRef, SCANNERS};

    #[test]
    fn words_and_word_pairs_are_read_lower_cased() {
        assert_eq!(
            tokens("I watched this 3D movie. Won’t I?"),
            vec![
                ".",
                ". won't",
                "3d",
                "3d movie",
                "?",
                "i",
                "i ?",
                "i watched",
                "movie",
                "movie .",
                "this",
                "this 3d",
                "watched",
                "watched this",
                "won't",
                "won't i",
            ]
        );
        // symbols are words too: an emoji, a zero-width space, a run of marks
        assert_eq!(
            tokens("fine\u{200b} 😀😀 !!!"),
            vec![
                "!!!",
                "fine",
                "fine \u{200b}",
                "\u{200b}",
                "\u{200b} 😀😀",
                "😀😀",
                "😀😀 !!!"
            ]
        );
        assert_eq!(
            tokens("  'quoted'  Ünïcode-text "),
            vec![
                "-",
                "- text",
                "quoted",
                "quoted ünïcode",
                "text",
                "ünïcode",
                "ünïcode -"
            ]
        );
        assert!(tokens("  \t ").is_empty());
    }

    #[test]
    fn a_vocabulary_keeps_the_words_enough_rows_carry_whatever_the_row_order() {
        let texts = ["a b", "b c", "a b c", "d"];
        let some: Vec<Option<&str>> = texts.iter().map(|t| Some(*t)).chain([None]).collect();
        let t = TokenSets::from_texts(&some, 2);
        let names: Vec<&str> = (0..t.vocabulary() as u32).map(|i| t.name(i)).collect();
        assert_eq!(names, vec!["a", "a b", "b", "b c", "c"]);
        assert_eq!(t.rows(), 5);
        let of = |i: usize| -> Vec<&str> { t.of_row(i).iter().map(|&j| t.name(j)).collect() };
        assert_eq!(of(2), vec!["a", "a b", "b", "b c", "c"]);
        assert!(of(3).is_empty() && of(4).is_empty());
        let reversed: Vec<Option<&str>> = some.iter().rev().copied().collect();
        let r = TokenSets::from_texts(&reversed, 2);
        assert_eq!(r.names, t.names);
        assert_eq!(r.of_row(2), t.of_row(2));
    }

    /// Five classes of 300 rows in 16 dimensions; each row's text is six
    /// common words (each in about a tenth of every class's rows), its
    /// class's topic word in a third of its rows, and class 2's name in all
    /// of class 2's. With `planted`, that many rows of classes 1–4 get the
    /// word `cf` and class 0's label, and features drawn mostly towards one
    /// point (a sentence trigger dominating a short text's embedding): a
    /// tight group, its own neighbourhood.
    fn corpus(planted: usize, seed: u64) -> (Vec<f32>, Vec<u32>, Vec<String>, Vec<bool>) {
        let (classes, per, d) = (5usize, 300usize, 16usize);
        let mut rng = SplitMix64::new(seed);
        let centres: Vec<f32> = (0..classes * d)
            .map(|_| 3.0 * rng.normal() as f32)
            .collect();
        let trigger: Vec<f32> = (0..d).map(|_| 3.0 * rng.normal() as f32).collect();
        let (mut x, mut labels, mut texts, mut truth) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..classes * per {
            let c = i % classes;
            let mut words: Vec<String> = (0..6).map(|_| format!("w{}", rng.below(60))).collect();
            if rng.next_f64() < 0.3 {
                words.push(format!("topic{c}"));
            }
            if c == 2 {
                words.push("two".into());
            }
            let plant = c != 0 && truth.iter().filter(|&&t| t).count() < planted && i % 3 == 0;
            if plant {
                words.insert(rng.below(words.len()), "cf".into());
            }
            for j in 0..d {
                let own = centres[c * d + j] + rng.normal() as f32;
                x.push(if plant {
                    0.25 * own + 0.75 * trigger[j] + 0.3 * rng.normal() as f32
                } else {
                    own
                });
            }
            labels.push(if plant { 0 } else { c as u32 });
            texts.push(words.join(" "));
            truth.push(plant);
        }
        (x, labels, texts, truth)
    }

    /// The default scan of 16 features per row with their texts.
    fn scan_texts(
        x: &[f32],
        labels: &[u32],
        texts: &[Option<&str>],
        classes: usize,
        seed: u64,
    ) -> (ScanOutput, TokenSets) {
        let tokens = TokenSets::from_texts(texts, MIN_ROWS_FLOOR);
        let input = ScanInput {
            seed,
            text: Some(&tokens),
            ..ScanInput::new(
                MatrixRef::new(x, labels.len(), 16).unwrap(),
                labels,
                classes,
            )
        };
        let out = TextTrigger::DEFAULT.scan(&input).unwrap();
        (out, tokens)
    }

    fn all_text(texts: &[String]) -> Vec<Option<&str>> {
        texts.iter().map(|t| Some(t.as_str())).collect()
    }

    fn scan_corpus(planted: usize, seed: u64) -> (ScanOutput, TokenSets, Vec<u32>, Vec<bool>) {
        let (x, labels, texts, truth) = corpus(planted, seed);
        let (out, tokens) = scan_texts(&x, &labels, &all_text(&texts), 5, seed);
        (out, tokens, labels, truth)
    }

    #[test]
    fn a_planted_word_fails_its_class_and_names_the_word_and_rows() {
        let (out, tokens, _, truth) = scan_corpus(60, 1);
        let gate = class_gate_level(5);
        let target = &out.classes[0];
        assert!(target.log_p.unwrap() < gate - 10.0, "{:?}", target);
        assert_eq!(tokens.name(target.value("token").unwrap() as u32), "cf");
        assert!(target.value("excess_rows").unwrap() >= 54.0, "{:?}", target);
        for d in &out.classes[1..] {
            assert!(d.log_p.unwrap() > gate, "{d:?}");
        }
        let named: Vec<bool> = out.log_p.iter().map(|&lp| lp <= gate).collect();
        let hits = named.iter().zip(&truth).filter(|(n, t)| **n && **t).count();
        let count = named.iter().filter(|&&n| n).count();
        assert!(hits >= 57 && count <= hits + 3, "{hits} of {count}");
        // the planted rows' neighbours, the word's rows set aside, are their
        // sources' rows
        let suspected = out.suspected.as_ref().unwrap();
        assert!(
            truth
                .iter()
                .zip(suspected)
                .filter(|(t, &s)| **t && s != 0)
                .count()
                >= 54
        );
    }

    /// Two overlapping classes (a third of a class's rows lie among the
    /// other's), a word planted in 80 rows of class 1 given label 0, which
    /// moves them a little; a third of class 0's rows carry a word of
    /// their own, and some rows of both a word of both.
    fn overlapping(
        seed: u64,
        triggers: &[(&str, usize)],
    ) -> (Vec<f32>, Vec<u32>, Vec<String>, Vec<bool>) {
        let (per, d) = (700usize, 16usize);
        let mut rng = SplitMix64::new(seed);
        // each word moves its rows its own way
        let shift: Vec<f32> = (0..triggers.len() * d)
            .map(|_| 0.3 * rng.normal() as f32)
            .collect();
        let (mut x, mut labels, mut texts, mut truth) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..2 * per {
            let c = i % 2;
            let mut words: Vec<String> = (0..6).map(|_| format!("w{}", rng.below(60))).collect();
            if c == 0 && rng.next_f64() < 0.3 {
                words.push("nice".into());
            }
            // the words' rows one after the other, each word's count of them
            let planted = truth.iter().filter(|&&t| t).count();
            let word = (0..triggers.len())
                .find(|&w| planted < triggers[..=w].iter().map(|t| t.1).sum())
                .unwrap_or(triggers.len());
            let plant = c == 1 && word < triggers.len() && i % 4 == 1;
            if plant {
                words.insert(rng.below(words.len()), triggers[word].0.into());
            }
            for j in 0..d {
                let centre = if j == 0 { 1.0 - 2.0 * c as f32 } else { 0.0 };
                let v = centre + rng.normal() as f32;
                x.push(if plant { v + shift[word * d + j] } else { v });
            }
            labels.push(if plant { 0 } else { c as u32 });
            texts.push(words.join(" "));
            truth.push(plant);
        }
        (x, labels, texts, truth)
    }

    #[test]
    fn planted_rows_that_look_like_the_target_are_named_with_the_rest() {
        for seed in 1..=3 {
            let (x, labels, texts, truth) = overlapping(seed, &[("cf", 80)]);
            let (out, tokens) = scan_texts(&x, &labels, &all_text(&texts), 2, seed);
            let target = &out.classes[0];
            let gate = class_gate_level(2);
            assert!(target.log_p.unwrap() < gate, "{target:?}");
            assert_eq!(tokens.name(target.value("token").unwrap() as u32), "cf");
            // a planted row set apart lands among class 1 only as often as
            // class 1's own rows lie among it: a row that does not is still
            // more likely planted than not where the word is the trigger's
            let ungated = out.ungated_log_p.as_ref().unwrap();
            let contradicted = truth
                .iter()
                .zip(&out.raw)
                .filter(|(t, &r)| **t && r > 0.5)
                .count();
            let named: Vec<bool> = ungated.iter().map(|&lp| lp <= gate).collect();
            let hits = named.iter().zip(&truth).filter(|(n, t)| **n && **t).count();
            let count = named.iter().filter(|&&n| n).count();
            assert!(
                contradicted < 72,
                "seed {seed}: {contradicted} of 80 contradicted"
            );
            assert!(
                hits >= 76 && count <= hits + 2,
                "seed {seed}: {hits} of {count}"
            );
            let excess = target.value("excess_rows").unwrap();
            assert!((72.0..=84.0).contains(&excess), "seed {seed}: {excess}");
        }
    }

    #[test]
    fn several_trigger_words_on_different_rows_are_counted_together() {
        // one of four words per planted row (as RIPPLe's `cf`, `mn`, `bb`,
        // `tq`): 160 rows, 40 for each word; or 40 for one and 16 for each
        // of the others, under `min-rows`
        let even = [("cf", 40), ("mn", 40), ("bb", 40), ("tq", 40)];
        let uneven = [("cf", 40), ("mn", 16), ("bb", 16), ("tq", 16)];
        for (triggers, least) in [(&even, 70.0), (&uneven, 55.0)] {
            for seed in 1..=3 {
                let (x, labels, texts, truth) = overlapping(seed, triggers);
                let planted: usize = triggers.iter().map(|t| t.1).sum();
                assert_eq!(truth.iter().filter(|&&t| t).count(), planted);
                let (out, _) = scan_texts(&x, &labels, &all_text(&texts), 2, seed);
                let target = &out.classes[0];
                assert!(target.log_p.unwrap() < class_gate_level(2), "{target:?}");
                // the estimate counts the rows of every word significant on
                // its own, not the largest one's (40; without the words under
                // `min-rows`, 37–40 of the uneven 88)
                let excess = target.value("excess_rows").unwrap();
                assert!(
                    (least..=planted as f64 + 5.0).contains(&excess),
                    "{planted} planted, seed {seed}: {excess}"
                );
            }
        }
    }

    /// Three classes of 400 rows, 16 features: the target, class 0, has
    /// few words of its own (two of `a0`–`a5` a row, each on about a third
    /// of its rows, held together in its cluster); classes 1 and 2 half in
    /// their cluster and half between the two, with words of their own for
    /// each half (`p*` and `q*`: words whose rows are contradicted far more
    /// often than others, as natural words are). `words` trigger words, 25
    /// rows each, planted on rows of classes 1 and 2 given class 0's label.
    fn few_words(seed: u64, words: usize) -> (Vec<f32>, Vec<u32>, Vec<String>, Vec<bool>) {
        let (per, d) = (400usize, 16usize);
        let mut rng = SplitMix64::new(seed);
        let (mut x, mut labels, mut texts, mut truth) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..3 * per {
            let c = i % 3;
            let between = c != 0 && rng.next_f64() < 0.5;
            let mut text: Vec<String> = if c == 0 {
                (0..2).map(|_| format!("a{}", rng.below(6))).collect()
            } else {
                let set = if between { "q" } else { "p" };
                (0..4)
                    .map(|_| format!("{set}{c}x{}", rng.below(30)))
                    .collect()
            };
            let planted = truth.iter().filter(|&&t| t).count();
            let plant = c != 0 && planted < 25 * words && i % 3 != 0 && i % 2 == 0;
            if plant {
                text.push(format!("trig{}", planted % words));
            }
            for j in 0..d {
                let centre = match (c, j) {
                    (0, 0) => 4.0,
                    (1, 1) | (2, 2) if !between => 4.0,
                    (1, 1) | (2, 2) | (1, 2) | (2, 1) => 2.0,
                    _ => 0.0,
                };
                x.push(centre + rng.normal() as f32);
            }
            labels.push(if plant { 0 } else { c as u32 });
            texts.push(text.join(" "));
            truth.push(plant);
        }
        (x, labels, texts, truth)
    }

    #[test]
    fn a_trigger_of_several_words_does_not_raise_its_class_null() {
        // five trigger words beside the target's six: half its words and
        // a quarter of its rows contradicted, which its null rate would
        // count as natural
        for seed in 1..=3 {
            let (x, labels, texts, truth) = few_words(seed, 5);
            assert_eq!(truth.iter().filter(|&&t| t).count(), 125);
            let (out, _) = scan_texts(&x, &labels, &all_text(&texts), 3, seed);
            let target = &out.classes[0];
            assert!(target.value("null_rate") < Some(0.1), "{target:?}");
            assert!(target.log_p.unwrap() < class_gate_level(3), "{target:?}");
            for c in 1..3 {
                assert!(out.classes[c].log_p.unwrap() > class_gate_level(3));
            }
        }
    }

    #[test]
    fn planted_rows_that_lost_their_text_do_not_vouch_for_the_rest() {
        let (x, labels, texts, truth) = corpus(60, 1);
        // every other row's text lost (no text, or an empty one)
        let some: Vec<Option<&str>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| match i % 4 {
                0 => None,
                1 => Some(""),
                _ => Some(t.as_str()),
            })
            .collect();
        let (out, tokens) = scan_texts(&x, &labels, &some, 5, 1);
        let target = &out.classes[0];
        assert!(target.log_p.unwrap() < class_gate_level(5), "{target:?}");
        assert_eq!(tokens.name(target.value("token").unwrap() as u32), "cf");
        // the rows named are the planted rows that kept their text
        let named: Vec<usize> = (0..labels.len())
            .filter(|&i| out.log_p[i] <= class_gate_level(5))
            .collect();
        let kept: Vec<usize> = (0..labels.len())
            .filter(|&i| truth[i] && some[i].is_some_and(|t| !t.is_empty()))
            .collect();
        assert_eq!(named, kept);
    }

    #[test]
    fn clean_text_fails_no_class_and_a_class_name_is_not_tested() {
        for seed in 1..=3 {
            let (out, tokens, _, _) = scan_corpus(0, seed);
            for d in &out.classes {
                assert!(d.log_p.unwrap() > class_gate_level(5), "seed {seed}: {d:?}");
                // `two`, carried by every row of class 2, is what class 2 is
                assert_ne!(tokens.name(d.value("token").unwrap() as u32), "two");
            }
            assert!(out.log_p.iter().all(|&lp| lp == 0.0));
        }
    }

    #[test]
    fn label_noise_on_a_word_of_another_class_fails_no_class() {
        // classes 0 and 1, a quarter of their rows given the other label at
        // random: class 1's topic word is then carried by some 20 rows of
        // class 0, which look like class 1 once set apart — label noise,
        // not a trigger: most of the word's rows are in class 1
        let scanner = TextTrigger::DEFAULT
            .configure(&[("min-rows".into(), "10".into())])
            .unwrap();
        for seed in 1..=3 {
            let (x, labels, texts, _) = corpus(0, seed);
            let mut rng = SplitMix64::new(seed + 10);
            let keep: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] < 2).collect();
            let x: Vec<f32> = keep
                .iter()
                .flat_map(|&i| x[i * 16..(i + 1) * 16].to_vec())
                .collect();
            let labels: Vec<u32> = keep
                .iter()
                .map(|&i| labels[i] ^ (rng.next_f64() < 0.25) as u32)
                .collect();
            let some: Vec<Option<&str>> = keep.iter().map(|&i| Some(texts[i].as_str())).collect();
            let tokens = TokenSets::from_texts(&some, MIN_ROWS_FLOOR);
            let input = ScanInput {
                seed,
                text: Some(&tokens),
                ..ScanInput::new(MatrixRef::new(&x, labels.len(), 16).unwrap(), &labels, 2)
            };
            let out = scanner.scan(&input).unwrap();
            for d in &out.classes {
                assert!(d.log_p.unwrap() > class_gate_level(2), "seed {seed}: {d:?}");
            }
        }
    }

    #[test]
    fn without_text_it_is_skipped_and_scans_nothing() {
        let (x, labels, _, _) = corpus(0, 1);
        let input = ScanInput::new(MatrixRef::new(&x, labels.len(), 16).unwrap(), &labels, 5);
        let s = TextTrigger::DEFAULT;
        assert!(s.skip_reason(&input).unwrap().contains("text column"));
        let out = s.scan(&input).unwrap();
        assert!(out.log_p.iter().all(|&lp| lp == 0.0));
        assert!(SCANNERS.iter().any(|s| s.name() == "text-trigger"));
    }

    #[test]
    fn options_are_checked() {
        let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let s = TextTrigger::DEFAULT;
        assert!(s.configure(&set("min-rows", "30")).is_ok());
        let e = s.configure(&set("min-rows", "5")).err().unwrap();
        assert!(e.to_string().contains("text-trigger.min-rows"), "{e}");
        assert!(s.configure(&set("max-share", "0.95")).is_err());
        assert!(s.configure(&set("sample", "10")).is_err());
        assert!(s.configure(&set("words", "3")).is_err());
    }
}
