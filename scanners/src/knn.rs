//! `PS004 knn-label-disagreement`: samples whose nearest neighbours, found in
//! a label-agnostic view, carry another label.

use rayon::prelude::*;

use crate::carried::{self, carried_trigger_tests, Neighbourhoods};
use crate::error::{parse_value, ParamError, ScanError};
use crate::foreign::{foreign_group_test, References};
use crate::gemm::a_bt;
use crate::labelflow::{
    coherence_test, direction_test, isolation_tests, kin_classes, recognised_classes, source_tests,
    Minority, OwnCounts,
};
use crate::local::{contradicted_pattern_tests, local_pattern_test, LocalPattern, Pictures};
use crate::rng::SplitMix64;
use crate::stats::ln_binomial_lower;
use crate::warp::{shared_warp_test, SharedWarp};
use crate::{
    class_gate_level, sub_test_log_p, ClassDiagnostics, MatrixRef, ScanInput, ScanOutput, Scanner,
};

const DOC: &str = r#"# PS004 knn-label-disagreement

## What it detects
Samples whose label disagrees with the labels of their nearest neighbours,
where "near" is decided without looking at labels: relabelled samples
(label flipping), and the dirty-label backdoors (BadNets, blended triggers)
whose poisoned samples are ordinary images of another class given the
target's label. For each sample it also reports the neighbours' majority label
(`suspected_label`): the class the sample most likely came from.

## Why it matters
Dirty-label poisoning must change labels: a trigger stamped on a "3" that is
relabelled "0" still looks like a "3" to anything that ignores the small
trigger. In a label-agnostic view those samples sit among the samples of
their true class, so their neighbours out-vote their label. This holds at low
poison rates, where spectral methods see too little signal.

## Method
1. The view, built from the inputs themselves (never from a representation
   a model learned with the labels): every feature clipped to its 10th and
   90th percentiles over the rows (`winsorize`: values only a few rows take,
   such as a trigger's, do not shape the view; a value beyond a bound keeps
   a twentieth of its log excess over the range, so that rows differing
   only there are not tied and picked by row order), centred and standardised
   over all rows —
   centred only when the features share one scale (pixels), since
   standardising would inflate the nearly constant pixels where patch
   triggers sit — projected on the top `dims` principal components
   (randomized SVD; all rows, no labels).
2. Exact k-nearest neighbours of every row (Euclidean, in that view) by
   blocked matrix products, query blocks in parallel.
3. Per row: the agreement `a` (share of the `k` neighbours with the row's
   label), the neighbours' majority label, and the agreement `a₂` two
   steps away (among the neighbours' neighbours, the row left out): a
   relabelled row deep inside its true class finds no row of its label
   there either, while a row on a natural class boundary finds its class
   close by. Raw score `1 − (a + a₂)/2`.
4. Calibration: within class `c`, the agreeing neighbours (`k·a`, plus
   `k·a₂` rounded) are compared with a Binomial(`2k`, `q_c`), `q_c` the mean agreement of the
   class's rows that are not contradicted (see 5; kept within
   [0.5, 1 − 0.5/k]), so that a poisoned minority does not lower it; the
   p-value is its lower tail.
5. A row is *contradicted* when its agreement is at most `min-agreement`
   and its neighbours' majority is another class (the class's noise share in
   the summary's label-noise section). Rows whose label is in the minority
   among their neighbours (agreement below one half), by given label and
   the neighbours' majority, form the data set's confusion matrix (the
   label-noise section's confused pairs).
6. Class tests, calibrated on the data set itself rather than on a fixed
   rate of contradicted rows (natural overlap between classes makes 20 % of
   a clean class contradicted in some data sets, and 0.5 % in others):
   - *unanimity*: rows with no own-label neighbour at all against rows with
     exactly one. Along a natural class boundary the two are about equally
     common (0.5–1.7 times over the classes of clean MNIST and
     Fashion-MNIST); relabelled rows, which lie among their true class, pile
     up at none (10 times with a 0.3 % backdoor, 9 times with 10 % random
     flips). The count with none is tested against Binomial(both,
     ρ/(1+ρ)), ρ = `unanimity-ratio`, or the ratio a class that small
     would show if labels carried no local information, when that is higher;
     likewise rows with at most one against rows with a mixed neighbourhood
     (2 to `k/2 − 1` own-label neighbours), ρ = `isolation-ratio`: it sees
     relabelled rows dense enough to be each other's neighbours (5 % of
     MNIST relabelled into one class, without a trigger), which pile up at
     one rather than none.
   - *source*: the same two counts split by the class the row's
     neighbourhood points to, each source class a stratum. A class's
     natural boundary rows come from the classes it borders, in their
     natural none/one/mixed proportions; relabelled rows come from every
     source, including classes it does not border, where they are all alone
     among that class. Pooled, a confusable neighbour's boundary dilutes
     them; per source they stand out (Fashion-MNIST, a patch on 0.3 % of
     the rows relabelled T-shirt: 18–42 rows alone among sandals, sneakers,
     trousers or bags against 1–30 on clean data, the pooled unanimity test
     passing). The statistic is the sum over sources of the
     likelihood-ratio evidence that the source's share exceeds the null
     ratio (zero for a source under it); its p-value is exact, by
     convolution of the sources' binomials at the null ratio. A source many
     times the class's size gets a larger null ratio: the ratio of rows
     placed at random among the rows of the two classes (the class's share
     of them carrying its label), when that is larger than the class's —
     where a small class overlaps a large one, even its natural rows rarely
     meet one of their kind among `k` neighbours (Fashion-MNIST cut to a
     long tail: 250 shirts beside 5,400 T-shirts, 64 rows with no shirt
     neighbour, 23 with one and 5 with two to four, against 64 %, 29 % and
     7 % for rows placed at random; the class failed at log p −13.9 before).
     A source's null ratio is also at least the upper quartile of the
     ratios of the other classes' rows that point to it (strata of 20 rows
     or more, when four classes have one), scaled down by how far the
     data set's typical stratum (the median ratio over every class and
     source) exceeds the class's null ratio: where classes are mixtures of
     shared kinds of row (a photo set whose classes draw on the same
     scenes), every class's rows lie alone where another class dominates,
     and rows planted from a source are alone beyond what the other
     classes' rows there are; relabelled rows spread over every class
     (random flips) raise every stratum alike, the typical one with them. 50,000 such pictures (ten classes of 5,000,
     `--model none`, seeds 1 and 2) failed two and four clean classes at
     `ln p` −18 to −23 with the class's ratio alone; the strongest is now
     −7.4, and passes.
     The smaller of the unanimity and isolation versions, times 2. In a
     class it fails on its own, a row it counts weighs its p-value by the
     share of natural rows estimated for its source (weighted p-values):
     rows alone among a class the target does not border are mostly
     planted, rows alone at a natural boundary mostly not.
   - *kin*: the unanimity, isolation and source counts and the
     contradicted pattern count a row's neighbours of its own *kind*: its
     label and its kin's (the unanimity,
     isolation and source tests keep the weaker of the counts by kind and
     by label: kin only explain evidence away). Two classes are kin when
     each one's rows point to the other (their neighbours' strict
     plurality) at least half as often as to themselves, at least 10 rows,
     and the two together have a *core* as a class must to be judged (see
     below; labels of a designed experiment's factor lean on each other by
     chance) — labels that split one kind of row at random, synonyms from
     merged sources, fine-grained labels the inputs do not tell apart, whose
     rows' neighbours carry their siblings' labels as often as their own, so
     that on the boundary with another kind a natural row is alone as a
     relabelled one is (Fashion-MNIST with each class split at random into
     four labels: 23 of 40 clean classes failed the source test, `ln p` to
     −89). Natural confusion between two kinds stays well under a class's
     own recognition (Fashion-MNIST's shirts: 57 % of their rows point to
     shirts, far fewer to T-shirts); planted rows move one way, and the
     target's own rows keep pointing to it. Most data sets have no kin, and
     the counts are the label's. Each row's evidence (steps 3–4),
     confusion, direction, coherence and the label-noise report stay by
     label (kin are confused pairs to report): kin are found unevenly in
     small classes, and evidence by kind in some classes and by label in
     others would not share the scale fusion compares them on (MNIST's
     10,000 test pictures, each digit split in three labels, a patch on 91
     relabelled into one: 367 rows flagged at 25 % precision, 91 at 100 %
     by label).
   - *direction*: poisoning moves rows from source classes *into* a target;
     natural ambiguity runs both ways. A class's minority rows (inflow)
     against the minority rows of other classes whose majority it is
     (outflow), and each source pair `t ← s` against `s ← t` — counting
     minority rows rather than contradicted ones sees planted rows dense
     enough to be each other's neighbours — each tested as the share one way
     of both directions, under a binomial whose log odds vary from pair to
     pair with a spread estimated from the data set's other classes and
     pairs (a median-based random-effects estimate, which a minority of
     poisoned pairs does not move; never below three quarters of the pair
     spread for whole classes), centred on what the two classes' sizes
     predict: where classes overlap, a row's neighbours mostly carry the
     larger class's label, so a small class loses rows to a large one (a
     share of the log ratio of the sizes, estimated from the other pairs
     whose sizes differ at least twofold; none in balanced data sets). How
     much of it shows varies from pair to pair — a small class nested in a
     large one loses its boundary rows and wins none back, well-separated
     classes trade rows evenly — so that share's spread over the other
     pairs (`1.4826 × MAD`) times the pair's log size ratio widens the
     pair's null on top of the natural spread. A pair's centre is the
     larger of that and the class's *own* share, the median over its other
     pairs (at least two) whose sizes differ twofold: a small class that
     overlaps larger ones loses rows one way to every one of them, far
     beyond the typical pair (Fashion-MNIST's shirts cut to 250 rows, raw
     pixels: 92 rows to the T-shirts against 1, 71 to the pullovers against
     15, 23 to the coats against 9, where the other pairs' median share is
     0: log p −9.1 before, −3.4 now). Known false positive before the
     size effect: the same long tail, whose 250 shirts lost 105 rows to
     5,400 T-shirts and won none back.
   - *pooled*: the unanimity and isolation counts summed over the classes
     that are not significant alone, against the sum of their binomials:
     relabelled rows spread thinly over every class (random flips in a
     small table: nine of 180 rows a class) are too few in each class and
     plain in all of them together. A class that exceeds its own null ratio
     gets the pooled p-value.
   - *coherence*: the log odds that an own-label neighbour of a minority
     row (own label in the minority among its neighbours) is itself a
     minority row, against the other classes' median and spread (MAD,
     never below 0.5). Rows that share a trigger become each other's
     neighbours, so few are alone among another class, but the minority
     ones sit next to each other (MNIST, blend 5 %: 0.66 against 0.13–0.39
     for clean classes); natural boundary rows are scattered along the
     boundary. Needs three other classes; with fewer than six, the spread
     is widened by `√(1 + π/(2m))` for `m` of them, the uncertainty of
     their median (MNIST 3, 5, 8 and 9 with a 5 % warp into the 3s: 0.76
     against −1.8 to −1.25; clean Fashion-MNIST tops within 0.64 of their
     peers).
   - *foreign group*: a planted group dense enough to be a world of its
     own (a blend on 10 % of the data, more rows than the target class's
     own) leaves no row in the minority, but the class splits in two, and
     the planted part is other classes' rows plus one shared shift. The
     class's rows, whitened by the other classes' pooled within-class
     covariance, are split by 2-means; each part is moved by its offset
     from the other classes' centre (the median of their means) and its
     rows' `k` nearest rows of the other classes found (a seeded sample of
     512 rows of the part among 16,384 of the others). A planted part
     lands inside its source classes, among rows of one label (landing
     purity 0.94 on MNIST and 0.84 on Fashion-MNIST with a 10 % blend); a
     natural mode lands between the classes, in mixed company (0.42–0.77
     over every part of every clean class of both). The class's larger
     logit purity is tested against every part of the other classes
     (median, `1.4826 × MAD`, never below 0.3). A part whose landing
     neighbours lie mostly (80 %) in other classes' more suspicious parts
     is the mirror image of a planted group (clean ones moved onto the
     blended ones relabelled zero) and is not tested. Needs six other
     classes.
   - *contradicted pattern* (images only): a patch stamped at a place of
     its own in each picture is no shift the planted rows share, and where
     the target borders their source classes the tests above may not see
     them among the natural boundary rows (Fashion-MNIST's four tops, 1 %
     relabelled T-shirt: 995 minority rows, 280 of them planted) — but the
     planted rows hold the patch's values, exactly, in some 3×3 block.
     Every 3×3 block of the class's minority rows (at most 4,096, seeded)
     is hashed; every block at least 20 of them hold is a candidate (a 4×4
     checkerboard on 0.3 % of the four tops is held by 5.5 % of the
     pullovers' minority rows), each against the larger of two shares
     holding it in a seeded sample of at most 2,048 rows of each class: the
     other classes' rows, and the class's own rows that are not
     contradicted (a block natural to the class, such as a flat colour of
     one kind of emoji, is held by its agreeing rows as much as by its
     boundary rows; planted rows are mostly contradicted): `ln P(B ≥ s)`,
     `B ~ Binomial(minority rows, min(1, 4 × share))`, plus `ln` of the
     candidates. Where it fails the class, the class's rows holding the
     best block, or a block that nine in ten of its holders hold and the
     other classes at most twice as often (another part of the same
     trigger: on emoji, a checkerboard on 5 % into objects was picked by a
     block of its edge that 121 of the 379 planted pictures hold, and the
     checkerboard's own block brings all 379), are the group (judged as
     the shared local pattern's are, below); the estimate is their number less the other classes' share of
     the class, or, where another test is significant on its own, that
     test's count if larger (on MNIST a patch landing on a stroke holds no
     block of its own). Known false positives: a block that a class's
     boundary rows share more than four times as often as the rest of the
     data set, often enough to be significant — on the clean image sets
     (MNIST, Fashion-MNIST, its subsets and long tail, MNIST's, the emoji at
     64×64 and 32×32 and with skin tones, digits; 3 seeds, 243 classes) no
     class's best block has `ln p` below 0; the largest ratio of shares,
     4.6, is a block held by 20 rows, the least. A warp leaves exact blocks
     now and then (interpolated edges of items that match pixel for pixel):
     Fashion-MNIST warp 5 %, seed 3, 45 of 1,040 warped rows. Known limits:
     exact values (a picture saved as JPEG after the stamp), a patch
     smaller than the block or whose values are common in the pictures (a
     white patch on emoji, which hold white highlights: 3.2 times the
     share, not significant).
     Summary: `contradicted_pattern_log_p`, `_rows`.
   The class's p-value is the smallest of the seven (eight with images),
   times their number.
   - *carried trigger* (only where another class has failed these tests;
     more than 1,024 features, as colour images have, are read through a
     seeded Gaussian projection to 1,024, which keeps an added trigger a
     shared shift): an all-to-all backdoor puts a few
     dozen rows in every class, each from the class next to it, and a
     class whose planted rows come from a class it borders passes the
     tests above; what the planted rows of every class share is the
     trigger. A minority row minus the mean of its neighbours of the
     neighbourhood's label is, for a planted row, the trigger plus noise.
     The rows a failed class's test names (its minority rows among the
     most significant, as many as its estimate) are *seeds*; for each
     class, the trigger is the coordinate-wise median residual of the
     *other* failed classes' seeds, in the metric of the agreeing rows'
     residuals against their own-label neighbours (`C⁻¹ m`, ridge 1 % of
     the mean variance; a sample of 4,096). A minority row of the class
     carries it when its projection, in spreads of the class's agreeing
     rows' projections, reaches half the seeds' median (at least 5; a
     trigger whose seeds stand less than 10 off is not tested) and its
     residual points along the trigger (cosine at least 0.4 in that
     metric: natural rows that project far point elsewhere too, 0.42 at
     most on Fashion-MNIST). Their count is tested against Binomial(the
     class's minority rows, the class's agreeing rows' share past both
     cuts, plus one over their number plus one). It runs only after
     another class failed (a gatekeeping procedure: on data where no class
     fails it adds nothing, so it stands beside the others at its own
     p-value); where it is the more significant, its count is the class's
     estimate and its rows are judged as members of the group (the class's
     p-value, times the class's agreeing rows' share that carries the
     trigger as far: a planted row is both contradicted and carrying, a
     natural boundary row only contradicted).
     Where no class failed (with at least 400 features), the seeds are
     *discovered*: among rows with at most a tenth of their neighbours of
     their own label, residuals whitened the same way; for each class, the
     candidate (neither of the class nor among its rows) with the most
     others within cosine 0.25, and the candidates within 0.4 of its
     company's mean. The class's own rows do not choose its direction, and
     a two-way natural confusion is kept out of both classes'. Its p-value
     is then corrected for an eighth test (× 8), and the trigger must be
     carried by at least 20 rows over the classes (as many as failed
     classes must name as seeds). Clean MNIST and Fashion-MNIST: at most
     19 seeds, not tested; at 56×56 through the projection, 11 rows over
     four classes (one class ln p −7.9 on 5 rows without that minimum).
     MNIST all-to-all on 0.3 % (18 rows a class, no class failed before):
     every class fails, flagged 100 % / 100 %. Measured (raw pixels, a 3×3
     patch on 1 % of the rows, each relabelled to the next class): MNIST,
     every class failed (the 3s, from 2s, passed before) and flagged
     100 % / 100 % (71 % / 86 % before); Fashion-MNIST 94 % / 100 %
     (64 % / 68 %, three classes passed). Colour emoji (32×32×3), a
     checkerboard patch all-to-all on 1 %: 4 of 9 classes fail (none
     before). Two targets with different triggers: nothing carried.
     Summary: `carried_trigger_log_p`, `_rows`, `_cut`, `_discovered`.
   - *shared warp* (images only, in a class these tests failed; it names
     rows, it never fails a class): a warping trigger (WaNet) resamples
     each planted image along one smooth displacement field, so a planted
     row minus the mean of its neighbours of the neighbourhood's label is,
     to first order, the field times that mean's gradient — the same field
     for rows of every source. The field (a 5 × 5 cosine basis per axis)
     is fitted to the class's minority rows' residuals, reweighted three
     times by the share each explains, on one half of them, and judged on
     the other (cross-fitting); the null is the other classes' minority
     rows under the same fields. Every minority row of the class is
     weighed by the null's share at or above its explained share; a row
     beyond the null's upper 1 % is explained; where their count is
     significant at the failing level, at least a tenth of the class's
     minority rows, and among the rows the failing test named at least
     half as often as chance (the field is related to what failed the
     class), an explained row is behind the failure (the class's p-value)
     and the ones the failing test did not name add to its estimate. Known false positives: a class whose natural boundary rows
     differ from their neighbours by one shift or stretch (on clean
     Fashion-MNIST a class's own field explains 1.6–6 % of its minority
     rows against the others' 1 %, footwear 24–36 %; with 10 % of every
     class's labels flipped, 1–5 %) — which is why it is not a class test,
     and why it needs a tenth and the overlap (an all-to-all patch fails
     the sneakers, whose natural field explains 22 % of their minority
     rows: 1 of them among the 25 named, 5.5 by chance; warps 0.98–1.9
     times chance); a warp into
     shirts, the most confusable class, is fitted to the natural field and
     not used. Fashion-MNIST, a
     warp into T-shirts, seed 1: 0.3 % flagged recall 54 → 86 %,
     precision 67 → 72 %; 1 % 54 → 82 %, 83 → 88 %; 5 % 16 → 55 %, 95 %.
     Summary: `shared_warp_ln_p`, `_rows`.
   - *shared local pattern* (images only, in a class these tests failed
     but the contradicted pattern did not; it names rows, it never fails a
     class): a patch stamped at a place of
     its own in each picture (or moved by random crops) is no shift the
     planted rows share, but they all hold its values, exactly, in some
     3×3 block. Every 3×3 block of the rows the failing test named (at
     most 4,096, seeded) is hashed; the blocks at least 20 and a tenth of
     them hold are candidates (the eight most held), each against the share
     of a seeded sample of at most 8,192 other classes' rows holding it:
     `ln P(B ≥ s)`, `B ~ Binomial(named, min(1, 4 × share))`, plus `ln` of
     the candidates (a background block every picture holds is no
     evidence). Where the best is significant at the failing level and held
     by a tenth of the named rows, every row of the class holding it (or
     another part of the same trigger, as above) is one of the group (its
     p-value the pattern's, at least the class's) and
     the estimate is at least their number less the other classes' share.
     A blend leaves such blocks too, where the picture was empty. Known
     limits: exact values (a picture saved as JPEG after the stamp loses
     them; the label tests still judge it); a patch on flat drawings whose
     colours repeat within one class (emoji) is missed before this step.
     Fashion-MNIST, a solid 3×3 patch at a place of its own in each of 1 %
     of the pictures into T-shirts (seed 1): flagged precision / recall
     87.8 / 76.4 % → 99.9 / 100 %; a random 4×4 pattern in one of the four
     corners, chosen per picture, on 0.3 %: 74.2 / 64.3 % → 99.5 / 99.5 %.
     Summary: `local_pattern_ln_p`, `_rows`.
   Every test but the foreign group contrasts the class's contradicted rows
   with its *core*: the rows whose neighbours' strict plurality is their
   own label. A class with no core — fewer than 10 such rows, or no more
   than the rows of the whole data set whose neighbourhoods point to it
   explain (one-sided binomial at 1 %), or no more than the rows of one
   other class do whose own rows recognise that class better (the rest of
   the kind a synonym names part of; not its kin) — has labels its
   features do not predict: nearly every row of it looks relabelled and
   the flow out of it is one-way by construction, with nothing to say
   which rows were planted.
   Such a class is not judged by those tests (summary: `judged` 0,
   `recognised_rows`, and `kind_source`, the class id whose kind it names
   part of, where that alone took its core); its contradicted rows stay in
   the label-noise section, and its counts still calibrate the other
   classes' nulls.
   Measured: ANES 1996's junior-college graduates among its seven levels of
   education (none of 90 rows recognised, where the direction, source and
   isolation tests failed the class in every seed); every class of the
   clean image sets and of the red team's target classes has a core.
7. In a class whose coherence test is significant on its own (1 % over the
   classes and the class tests), support from the planted group is no
   support: the *pocket* is the class's minority rows, then, repeatedly,
   every row of the class at least half of whose own-label neighbours are
   already in it; each row's agreement (one and two steps away) is counted
   again without the pocket's rows, and the lower p-value kept. The dense
   core of a planted group, whose neighbours are its own kind, is reached
   through its minority fringe (MNIST, raw pixels, seed 1: blend 5 %
   AUROC 0.942 → 0.959 and flagged recall 49 % → 80 %; warp 10 % 0.958 →
   0.989, 70 % → 98 %); along a natural boundary the pocket barely grows
   past the minority rows. The summary's `pocket_rows` gives its size. In
   a class whose foreign-group test is significant on its own, the group's
   rows that land inside one class (90 % of their landing neighbours of one
   label; the target's own rows caught in the split land mixed) are judged
   where they land: their agreement is the share of their landing
   neighbours *not* of that label, and that label is their suspected source (MNIST, raw pixels, seed 1: blend 10 % AUROC
   0.35 → 0.993, flagged 98.6 % / 98.7 %; Fashion-MNIST blend 10 % 0.36 →
   0.963, BadNets 10 % 0.46 → 0.963). Each test
   also estimates the relabelled rows behind it (`excess_rows`: unanimous
   or isolated rows beyond what the data set's typical class shows next to
   as many boundary rows; inflow beyond outflow), which fusion flags when
   the class fails. The class's estimate is its most significant test's,
   and where the foreign group is significant on its own, no less than
   the foreign group's: its rows, judged where they land, are not the
   minority rows the other tests count, and a planted group can be seen
   whole by it and in part by a more significant test (Fashion-MNIST, raw
   pixels, a warp on 10 % into the T-shirts, seed 2: the direction test
   counts 2,444 rows of inflow beyond outflow, the foreign group 8,380;
   flagged recall 35.8 → 97.7 %, precision 99.4 → 81.6 %; a warp on 5 %,
   seed 3: 44.6 → 95.9 %, 97.1 → 72.4 %; 10 % of the rows relabelled
   T-shirt, seeds 2 and 3: recall 94.0 / 93.7 → 96.0 / 95.7 %, precision
   92.7 / 93.9 → 88.5 / 89.6 %). The price is precision: the foreign
   group's count runs above the planted rows (8,380 for 7,000 in the
   warp), and the class's ranking does not put every planted row first.

## Options
- `k` — neighbours (default 10, from 1 to 100).
- `dims` — principal components of the view (default 32, from 1 to 512; the
  standardised features themselves when there are no more).
- `min-agreement` — agreement at or below which a row counts as contradicted
  (default 0.2, from 0 to 0.5).
- `unanimity-ratio` — how many times more rows with no own-label neighbour
  than rows with one a clean class may have (default 2, from 0.5 to 20).
- `isolation-ratio` — how many times more rows with at most one own-label
  neighbour than rows with a mixed neighbourhood (2 to `k/2 − 1`) a clean
  class may have (default 1.5, from 0.5 to 20).
- `exact-rows` — most rows for which the neighbours are found exactly
  (default 200,000, from 0 to 10⁸). The exact search's cost grows with the
  square of the rows (a million 512-wide embeddings: 466 s of a 560 s scan
  on 2 cores); beyond this many rows each block of 256 nearby rows is
  compared only with the blocks whose centroids are nearest it.
- `search-rows` — rows each row is compared with in that approximate search,
  over all its trees (default 16,384, from 1,024 to 10⁸).
- `search-trees` — k-d trees the approximate search splits the rows by, each
  oriented differently and given an equal share of `search-rows` (default
  2, from 1 to 8). A row near the edge of its block in one tree lies inside
  a block of another. Measured against the exact search (BENCHMARKS.md):
  on a million rows in 100 classes, two trees of 8,192 rows flag the same
  5,000 rows as one tree of 32,768 (the default until then) with fewer
  clean rows suspected (17 against 39 above 0.5) and average precision
  1.000 against 0.998, at three quarters of its cost. On 300,000 rows of
  20 overlapping classes, where neighbourhoods are wide, the flags are the
  same (precision 98.0 % against 97.7 %, exact 97.3 %; recall 100 %) but
  the ranking is looser: average precision 0.934 against 0.964 (exact
  0.976); `search-rows=32768` gives 0.960.
- `winsorize` — clip every feature of the view to its `q` and `1 − q`
  quantiles before the principal components (default 0.1; 0 turns it off;
  up to 0.45). A trigger made of values few rows take (a patch in a corner
  most images leave blank) then no longer pulls the poisoned rows
  together, and they lie among their source class again. Measured on MNIST
  (raw pixels, seed 1): a 10 % BadNets patch went from AUROC 0.679 and no
  gate to 0.998 and a failed gate, a 1 % blend from no gate to a failed
  gate; 0.3 % and 1 % patches are gated as before; the clean corpus stays
  clean. It costs the view the rare values natural classes use too, and a
  trigger made of common values (a 5 % blend, a warp) is not helped.

## Known false positives
- Genuinely ambiguous or mislabelled samples (a sloppy "4" that looks like a
  "9") are contradicted without any attack; they are ranked high, and
  counted in the label-noise section, but fail their class only when they
  are unanimous far beyond the class's boundary rows or flow one way far
  beyond the data set's other pairs (`--fail-on-noise` gates on the
  contradicted share itself).
- A class whose natural neighbours are mostly *other* classes' isolated
  samples (a diffuse class such as "bag" in Fashion-MNIST came to 1.7
  times more unanimous rows than rows with one) is near the default ratio.
- The source test fails a class whose rows alone among one other class
  are natural but far more than its rows with one own-label neighbour
  there: a class that holds another class's odd samples under its own
  label (real mislabels, or one label for two kinds of thing). On clean
  Fashion-MNIST its worst class came to log p −4.1 (T-shirts among bags:
  49 rows with at most one own-label neighbour against 15 mixed), −1.6 on
  the rest of the clean corpus. The test assumes a view no model learned
  with these labels: in a network's own features (a fine-tuned model's
  embeddings given as the embedding column), rows of a kind one class
  dominates are drawn into that class's region whatever their label, and
  a class whose share of the kind is far below the other classes' is
  alone there far beyond them (the photo mix of 50,000 pictures, whose
  classes are mixtures of the same photographs, as the activations
  `--save-embeddings` wrote, seed 2: classes 0 and 2 alone among class 7
  at 6.8 and 5.5 times their mixed rows, the other classes 0.8–2.7; both
  failed, `ln p` −25.8 and −12.0, 265 rows flagged; seven other such
  embeddings pass). Give features no model learned from these labels (a
  pretrained encoder's, or the inputs) where you can.
- The foreign-group test fails a class with a natural mode that is a
  shifted copy of the other classes (a class of photos taken at night, of
  every object the other classes show): moved back, it lands among them
  as a planted group does. Such a class is a different kind of data under
  one label, worth a look; clean MNIST's and Fashion-MNIST's most
  foreign-looking parts (thin ones, shirts) come to log p −2 to −3.
- A label that takes a random part of one kind of row, beside the label
  that holds the rest (a synonym used by one of several merged sources for
  part of a class): its rows point to the other label far more often than
  to their own, the other's rows do not point back, so the two are not
  kin. Its own rows recognise it no better than the other label's rows
  do, so it has no core and is reported, not judged (see *Class tests*;
  it used to fail by coherence: 30 % of MNIST's zeros labelled `10`,
  `ln p` −18.9, all 598 rows flagged; Fashion-MNIST and MNIST with 20 %
  or 30 % of every class under a second name from a second source: pass,
  the ten second names not judged). The price: rows relabelled into such
  a label without a trigger are ranked (AUROC 0.985, 200 random rows of
  MNIST into the second name of the threes) but do not fail it, as for
  any class without a core; a trigger still fails it by `shared-pattern`.
  A split near even (half the shirts) makes the two labels kin.
- A class with a dense natural pocket of boundary rows (Fashion-MNIST's
  shirts: coherence log odds 0.42 against a median of −0.1 over the other
  classes) is within the coherence test's least spread of 0.5; a data set
  whose natural classes differ more than that would be at risk.
- Not false positives but misses: clean-label attacks keep correct labels
  and are not detected by this scanner. Rows relabelled into a class with
  no core (a class of fewer than 10 recognisable rows, or whose labels the
  features do not predict) are ranked but do not fail it: there is no
  natural part of the class to tell them from. Dirty-label attacks whose trigger
  is strong or dense enough that the poisoned rows become each other's
  neighbours escape the isolation tests, and their one-way flow is within
  the natural imbalance of MNIST's classes in pixel space, so the direction
  test misses them too; the coherence test catches them while some of
  them stay in the minority of their neighbourhood (MNIST blend 5 %, warp
  5–10 %); once the group is a world of its own (MNIST blend 10 %) the
  foreign-group test finds it when its trigger moves it further from the
  target's own rows than the class's natural modes lie apart (2-means
  splits the class along the larger gap: a faint trigger on a
  multi-modal class, Fashion-MNIST blend 5 %, is split along the natural
  modes and missed). A confusable target class
  (Fashion-MNIST's T-shirts) hides a 0.3 % attack among its natural
  boundary rows. A small class that overlaps much larger ones is held to
  the looser nulls above, so rows relabelled into it *from* those large
  classes look like its natural boundary: on the Fashion-MNIST long tail,
  60 T-shirts relabelled shirt pass the source test, and a one-way flow of
  60 trousers into the shirts is within what the class's own size effect
  allows (the source test, which sees them alone among trousers, fails
  the class).

## References
- D. Wilson. Asymptotic Properties of Nearest Neighbor Rules Using Edited
  Data. IEEE Trans. Systems, Man, and Cybernetics, 1972.
- N. Peri, N. Gupta, W. R. Huang, L. Fowl, C. Zhu, S. Feizi, T. Goldstein,
  J. P. Dickerson. Deep k-NN Defense Against Clean-Label Data Poisoning
  Attacks. ECCV Workshops, 2020.
- D. Tang, X. Wang, H. Tang, K. Zhang. Demon in the Variant: Statistical
  Analysis of DNNs for Robust Backdoor Contamination Detection. USENIX
  Security, 2021 (SCAn: a class as one or two components against the
  other classes' within-class covariance; the foreign-group test's split).
- N. Halko, P.-G. Martinsson, J. A. Tropp. Finding Structure with
  Randomness. SIAM Review, 2011 (the randomized SVD).
"#;

/// Validated parameters of [`KnnLabelDisagreement`].
#[derive(Debug, Clone, PartialEq)]
pub struct KnnValidParams {
    k: usize,
    dims: usize,
    min_agreement: f64,
    unanimity_ratio: f64,
    isolation_ratio: f64,
    winsorize: f64,
    exact_rows: usize,
    search_rows: usize,
    search_trees: usize,
}

/// Unchecked parameters of [`KnnLabelDisagreement`]; call [`KnnParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KnnParams(KnnValidParams);

impl Default for KnnParams {
    fn default() -> Self {
        Self(KnnLabelDisagreement::DEFAULT.params.clone())
    }
}

impl KnnParams {
    /// Neighbours (1..=100).
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }
    /// Principal components of the view (1..=512).
    pub fn dims(mut self, dims: usize) -> Self {
        self.0.dims = dims;
        self
    }
    /// Agreement at or below which a row is contradicted (0..=0.5).
    pub fn min_agreement(mut self, v: f64) -> Self {
        self.0.min_agreement = v;
        self
    }
    /// Rows with no own-label neighbour per row with one that a clean
    /// class may have (0.5..=20).
    pub fn unanimity_ratio(mut self, v: f64) -> Self {
        self.0.unanimity_ratio = v;
        self
    }
    /// Rows with at most one own-label neighbour per row with a mixed
    /// neighbourhood that a clean class may have (0.5..=20).
    pub fn isolation_ratio(mut self, v: f64) -> Self {
        self.0.isolation_ratio = v;
        self
    }
    /// Quantile at which every feature of the view is clipped at both ends
    /// (0 = off, up to 0.45).
    pub fn winsorize(mut self, v: f64) -> Self {
        self.0.winsorize = v;
        self
    }
    /// Most rows for which the neighbours are found exactly (0..=10⁸).
    pub fn exact_rows(mut self, v: usize) -> Self {
        self.0.exact_rows = v;
        self
    }
    /// Rows each row is compared with when the search is approximate
    /// (1,024..=10⁸).
    pub fn search_rows(mut self, v: usize) -> Self {
        self.0.search_rows = v;
        self
    }
    /// Trees the approximate search splits the rows by, each with its own
    /// blocks (1..=8).
    pub fn search_trees(mut self, v: usize) -> Self {
        self.0.search_trees = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<KnnValidParams, ParamError> {
        let p = self.0;
        let bad = |option, value: String, allowed| {
            Err(ParamError::OutOfRange {
                option,
                value,
                allowed,
            })
        };
        if !(1..=100).contains(&p.k) {
            return bad(
                "knn-label-disagreement.k",
                p.k.to_string(),
                "an integer from 1 to 100",
            );
        }
        if !(1..=512).contains(&p.dims) {
            return bad(
                "knn-label-disagreement.dims",
                p.dims.to_string(),
                "an integer from 1 to 512",
            );
        }
        if !(0.0..=0.5).contains(&p.min_agreement) {
            return bad(
                "knn-label-disagreement.min-agreement",
                p.min_agreement.to_string(),
                "a number from 0 to 0.5",
            );
        }
        if !(0.5..=20.0).contains(&p.unanimity_ratio) {
            return bad(
                "knn-label-disagreement.unanimity-ratio",
                p.unanimity_ratio.to_string(),
                "a number from 0.5 to 20",
            );
        }
        if !(0.0..=0.45).contains(&p.winsorize) {
            return bad(
                "knn-label-disagreement.winsorize",
                p.winsorize.to_string(),
                "a number from 0 (off) to 0.45",
            );
        }
        if p.exact_rows > 100_000_000 {
            return bad(
                "knn-label-disagreement.exact-rows",
                p.exact_rows.to_string(),
                "an integer from 0 to 100000000",
            );
        }
        if !(1024..=100_000_000).contains(&p.search_rows) {
            return bad(
                "knn-label-disagreement.search-rows",
                p.search_rows.to_string(),
                "an integer from 1024 to 100000000",
            );
        }
        if !(1..=8).contains(&p.search_trees) {
            return bad(
                "knn-label-disagreement.search-trees",
                p.search_trees.to_string(),
                "an integer from 1 to 8",
            );
        }
        if !(0.5..=20.0).contains(&p.isolation_ratio) {
            return bad(
                "knn-label-disagreement.isolation-ratio",
                p.isolation_ratio.to_string(),
                "a number from 0.5 to 20",
            );
        }
        Ok(p)
    }
}

/// kNN label-disagreement scanner (`PS004`).
#[derive(Debug, Clone, PartialEq)]
pub struct KnnLabelDisagreement {
    params: KnnValidParams,
}

impl KnnLabelDisagreement {
    /// The scanner with default settings.
    pub const DEFAULT: KnnLabelDisagreement = KnnLabelDisagreement {
        params: KnnValidParams {
            k: 10,
            dims: 32,
            min_agreement: 0.2,
            unanimity_ratio: 2.0,
            isolation_ratio: 1.5,
            winsorize: 0.1,
            exact_rows: 200_000,
            search_rows: 16_384,
            search_trees: 2,
        },
    };

    /// How far the neighbour search over `n` rows looks: approximate
    /// beyond `exact-rows` rows, unless `search-rows` covers them all.
    pub(crate) fn reach(&self, n: usize) -> Reach {
        if n > self.params.exact_rows && self.params.search_rows < n {
            Reach::Nearby {
                rows: self.params.search_rows,
                trees: self.params.search_trees,
            }
        } else {
            Reach::Exact
        }
    }

    /// Parameters to adjust and check.
    pub fn params() -> KnnParams {
        KnnParams::default()
    }

    /// The options of the label-agnostic view it finds neighbours in
    /// (`winsorize`, `dims`): other scanners that read the same view ask
    /// for it with these, and share it (see [`ScanInput::neighbour_view`]).
    pub(crate) fn view_options(&self) -> (f64, usize) {
        (self.params.winsorize, self.params.dims)
    }

    /// A scanner with checked parameters.
    pub fn new(params: KnnValidParams) -> Self {
        Self { params }
    }
}

/// The `k` best candidates of every row, flat (`k` slots a row), ordered by
/// (distance, row index). That order is total, so the lists do not depend on
/// the order candidates are offered in — which is what lets blocks of pairs
/// run on any thread.
struct TopK {
    k: usize,
    dist: Vec<f32>,
    idx: Vec<u32>,
    len: Vec<u8>,
    /// Distance of the k-th candidate (infinite while a list is not full).
    worst: Vec<f32>,
}

impl TopK {
    fn new(n: usize, k: usize) -> Self {
        Self {
            k,
            dist: vec![f32::INFINITY; n * k],
            idx: vec![u32::MAX; n * k],
            len: vec![0; n],
            worst: vec![f32::INFINITY; n],
        }
    }

    /// Offers row `j` at distance `d` as a neighbour of row `i`.
    #[inline]
    fn offer(&mut self, i: usize, d: f32, j: u32) {
        let (k, s) = (self.k, i * self.k);
        let len = self.len[i] as usize;
        // Does slot `t` of row `i` come strictly before (d, j)?
        let precedes = |dist: &[f32], idx: &[u32], t: usize| {
            dist[s + t] < d || (dist[s + t] == d && idx[s + t] < j)
        };
        if len == k && precedes(&self.dist, &self.idx, k - 1) {
            return;
        }
        let last = if len == k { k - 1 } else { len };
        let mut pos = last;
        while pos > 0 && !precedes(&self.dist, &self.idx, pos - 1) {
            pos -= 1;
        }
        for t in (pos..last).rev() {
            self.dist[s + t + 1] = self.dist[s + t];
            self.idx[s + t + 1] = self.idx[s + t];
        }
        self.dist[s + pos] = d;
        self.idx[s + pos] = j;
        if len < k {
            self.len[i] += 1;
        }
        if self.len[i] as usize == k {
            self.worst[i] = self.dist[s + k - 1];
        }
    }
}

/// Rows per block of the distance products.
const BLOCK: usize = 256;

/// The unordered pairs of blocks `(a, c)`, `a ≤ c`, in which one block is
/// among the `reach` blocks (itself included) whose centroids are nearest
/// the other's; sorted.
fn nearby_blocks(
    x: &[f32],
    d: usize,
    blocks: &[std::ops::Range<usize>],
    reach: usize,
) -> Vec<(usize, usize)> {
    let nb = blocks.len();
    let mut centroids = vec![0f32; nb * d];
    for (c, b) in centroids.chunks_mut(d).zip(blocks) {
        for row in x[b.start * d..b.end * d].chunks(d) {
            c.iter_mut().zip(row).for_each(|(c, v)| *c += v);
        }
        let len = b.len().max(1) as f32;
        c.iter_mut().for_each(|c| *c /= len);
    }
    let norms: Vec<f32> = centroids
        .chunks(d)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let cmp = |x: &(f32, usize), y: &(f32, usize)| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1));
    let mut pairs: Vec<(usize, usize)> = (0..nb)
        .into_par_iter()
        .flat_map_iter(|a| {
            let mut dots = vec![0f32; nb];
            a_bt(
                &centroids[a * d..(a + 1) * d],
                1,
                d,
                &centroids,
                nb,
                &mut dots,
            );
            // the block itself first, then by squared centroid distance
            let mut order: Vec<(f32, usize)> = dots
                .iter()
                .zip(&norms)
                .enumerate()
                .map(|(c, (&dot, &nc))| {
                    let dist = if c == a {
                        f32::NEG_INFINITY
                    } else {
                        norms[a] + nc - 2.0 * dot
                    };
                    (dist, c)
                })
                .collect();
            order.select_nth_unstable_by(reach - 1, cmp);
            order.truncate(reach);
            order.into_iter().map(move |(_, c)| (a.min(c), a.max(c)))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Splits `rows` recursively at the median of the coordinate with the widest
/// range (a k-d tree's leaves) until every part has at most [`BLOCK`] rows;
/// appends the parts in tree order, so that nearby parts are near each other.
fn partition(p: &[f32], d: usize, rows: &mut [u32], start: usize) -> Vec<std::ops::Range<usize>> {
    if rows.len() <= BLOCK {
        return std::iter::once(start..start + rows.len()).collect();
    }
    // every coordinate's range in one pass over the rows (in parallel parts
    // on large nodes: min and max do not depend on the order)
    let bounds = |part: &[u32]| {
        let mut lo = vec![f32::INFINITY; d];
        let mut hi = vec![f32::NEG_INFINITY; d];
        for &r in part {
            let row = &p[r as usize * d..(r as usize + 1) * d];
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                *l = l.min(v);
                *h = h.max(v);
            }
        }
        (lo, hi)
    };
    let (lo, hi) = rows
        .par_chunks(PARALLEL_NODE)
        .map(bounds)
        .reduce_with(|(mut l, mut h), (l2, h2)| {
            l.iter_mut().zip(&l2).for_each(|(a, &b)| *a = a.min(b));
            h.iter_mut().zip(&h2).for_each(|(a, &b)| *a = a.max(b));
            (l, h)
        })
        .expect("a node to split has rows");
    let widest = lo
        .iter()
        .zip(&hi)
        .enumerate()
        .map(|(j, (&l, &h))| (h - l, j))
        .fold(
            (f32::NEG_INFINITY, 0),
            |best, c| if c.0 > best.0 { c } else { best },
        )
        .1;
    let mid = rows.len() / 2;
    rows.select_nth_unstable_by(mid, |&a, &b| {
        p[a as usize * d + widest]
            .total_cmp(&p[b as usize * d + widest])
            .then(a.cmp(&b))
    });
    let (left, right) = rows.split_at_mut(mid);
    let (mut out, tail) = rayon::join(
        || partition(p, d, left, start),
        || partition(p, d, right, start + mid),
    );
    out.extend(tail);
    out
}

/// Rows of a k-d tree node above which its coordinate ranges are measured in
/// parallel parts.
const PARALLEL_NODE: usize = 65_536;

/// How far [`nearest_neighbours`] looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reach {
    /// Every row: the exact neighbours.
    Exact,
    /// Each block of rows is compared with the blocks whose centroids are
    /// nearest its own, about `rows` rows in all, split evenly over `trees`
    /// differently oriented k-d trees: approximate, at a cost linear in the
    /// rows where the exact search's grows with their square.
    Nearby {
        /// Rows each row is compared with, over all trees.
        rows: usize,
        /// k-d trees, each splitting the rows along other directions.
        trees: usize,
    },
}

/// The `k` nearest other rows of every row of `p` (`n × d`, row-major), by
/// Euclidean distance, nearest first; ties go to the lower row index.
///
/// With [`Reach::Exact`], exact, by blocked matrix products with
/// branch-and-bound: the rows are
/// split into blocks of at most 256 nearby rows (the leaves of a k-d tree),
/// each with its bounding box; block pairs are visited nearest first, and a
/// pair is skipped when the distance between the boxes already exceeds the
/// k-th candidate distance of every row of both blocks. Each unordered pair
/// of blocks is computed once and serves both directions; the pairs are
/// dealt to the threads in turn, each keeping its own candidate lists, merged
/// at the end under one total order — the output does not depend on the
/// thread count. Each row's lists start from the distance of its `k`-th
/// nearest row in its own block, an upper bound that spares the first pairs
/// most of their candidates.
///
/// With [`Reach::Nearby`], only the pairs of blocks in which one is among
/// the other's nearest by centroid are compared: a row's true neighbours lie
/// in blocks near its own. A row near the edge of its block misses those
/// beyond the edge, so the rows are split by several trees, the first along
/// the coordinates and the others along seeded random rotations of them, each
/// searched with its share of the rows; every row keeps the nearest of all
/// the candidates its trees found. At the same cost, two trees find more true
/// neighbours than one that reaches twice as far (measured in BENCHMARKS.md).
/// The output is as deterministic.
pub fn nearest_neighbours(p: &[f32], n: usize, d: usize, k: usize, reach: Reach) -> Vec<u32> {
    let k = k.min(n.saturating_sub(1));
    if k == 0 {
        return Vec::new();
    }
    let (trees, within) = match reach {
        Reach::Exact => (1, None),
        Reach::Nearby { rows, trees } => (trees.max(1), Some((rows / trees.max(1)).max(1))),
    };
    let mut best = search_tree(p, None, n, d, k, within);
    for t in 1..trees {
        let found = search_tree(p, Some(t as u64), n, d, k, within);
        // every row keeps the nearest of both lists
        best.par_chunks_mut(k)
            .zip(found.par_chunks(k))
            .for_each(|(mine, theirs)| {
                let mut both: Vec<(f32, u32)> = mine.iter().chain(theirs).copied().collect();
                keep_nearest(&mut both, mine);
            });
    }
    // a slot no candidate reached keeps row 0, as it always has
    best.into_iter()
        .map(|(_, j)| if j == u32::MAX { 0 } else { j })
        .collect()
}

/// `p` (`n × d`) turned by a seeded random rotation: distances are the
/// same, the coordinate axes a k-d tree splits on are not.
fn rotated(p: &[f32], n: usize, d: usize, stream: u64) -> Vec<f32> {
    let mut rng = SplitMix64::derive(0x7EE5, stream);
    // Gram–Schmidt on a Gaussian d × d matrix: a uniformly random rotation
    let mut r: Vec<f64> = (0..d * d).map(|_| rng.normal()).collect();
    for i in 0..d {
        for j in 0..i {
            let dot: f64 = (0..d).map(|c| r[i * d + c] * r[j * d + c]).sum();
            for c in 0..d {
                r[i * d + c] -= dot * r[j * d + c];
            }
        }
        let norm = (0..d)
            .map(|c| r[i * d + c] * r[i * d + c])
            .sum::<f64>()
            .sqrt();
        for c in 0..d {
            r[i * d + c] /= norm;
        }
    }
    let r: Vec<f32> = r.iter().map(|&v| v as f32).collect();
    let mut out = vec![0f32; n * d];
    out.par_chunks_mut(d * 1024)
        .zip(p.par_chunks(d * 1024))
        .for_each(|(o, x)| a_bt(x, x.len() / d, d, &r, d, o));
    out
}

/// One k-d tree's search — split along the coordinates, or along the
/// seeded random rotation `turn` of them: every row's `k` nearest
/// candidates `(squared distance, row)`, nearest first, `(∞, u32::MAX)` in
/// slots no candidate reached; `n × k`, by row.
fn search_tree(
    p: &[f32],
    turn: Option<u64>,
    n: usize,
    d: usize,
    k: usize,
    within: Option<usize>,
) -> Vec<(f32, u32)> {
    // Rows in leaf order: perm[position] = row.
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let blocks = match turn {
        None => partition(p, d, &mut perm, 0),
        Some(stream) => partition(&rotated(p, n, d, stream), d, &mut perm, 0),
    };
    let mut x = Vec::with_capacity(n * d);
    for &r in &perm {
        x.extend_from_slice(&p[r as usize * d..(r as usize + 1) * d]);
    }
    let norms: Vec<f32> = x.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
    let boxes: Vec<(Vec<f32>, Vec<f32>)> = blocks
        .iter()
        .map(|b| {
            let mut lo = vec![f32::INFINITY; d];
            let mut hi = vec![f32::NEG_INFINITY; d];
            for row in x[b.start * d..b.end * d].chunks(d) {
                for j in 0..d {
                    lo[j] = lo[j].min(row[j]);
                    hi[j] = hi[j].max(row[j]);
                }
            }
            (lo, hi)
        })
        .collect();
    let gap = |a: usize, c: usize| -> f32 {
        let ((la, ha), (lc, hc)) = (&boxes[a], &boxes[c]);
        (0..d)
            .map(|j| {
                let g = (lc[j] - ha[j]).max(la[j] - hc[j]).max(0.0);
                g * g
            })
            .sum::<f32>()
            * 0.999 // float slack: never skip a pair that could qualify
    };
    let nb = blocks.len();
    // blocks within reach: the rows asked for, in blocks of the average size
    let within = match within {
        Some(rows) => (rows as f64 * nb as f64 / n as f64).ceil() as usize,
        None => nb,
    };
    let candidates: Vec<(usize, usize)> = if within < nb {
        nearby_blocks(&x, d, &blocks, within.max(1))
    } else {
        (0..nb).flat_map(|a| (a..nb).map(move |c| (a, c))).collect()
    };
    let mut pairs: Vec<(f32, usize, usize)> = candidates
        .into_iter()
        .map(|(a, c)| (gap(a, c), a, c))
        .collect();
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    // Every row's k-th nearest within its own block bounds its k-th
    // neighbour's distance: each thread's lists start from that bound, so
    // that they dismiss far candidates from the first pair on. The block's
    // own pair is computed again below by the same product, so its `k`
    // nearest are offered and kept: the result is the same as without it.
    let bound: Vec<f32> = blocks
        .par_iter()
        .flat_map_iter(|b| {
            let len = b.len();
            let mut g = vec![0f32; len * len];
            let rows = &x[b.start * d..b.end * d];
            a_bt(rows, len, d, rows, len, &mut g);
            let norms = &norms[b.start..b.end];
            let mut dist = Vec::with_capacity(len);
            (0..len)
                .map(|qi| {
                    dist.clear();
                    dist.extend(
                        (0..len)
                            .filter(|&r| r != qi)
                            .map(|r| norms[qi] + norms[r] - 2.0 * g[qi * len + r]),
                    );
                    if dist.len() < k {
                        return f32::INFINITY;
                    }
                    *dist.select_nth_unstable_by(k - 1, f32::total_cmp).1
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let threads = rayon::current_num_threads().max(1).min(pairs.len().max(1));
    let partial: Vec<TopK> = (0..threads)
        .into_par_iter()
        .map(|t| {
            let mut top = TopK::new(n, k);
            top.worst.copy_from_slice(&bound);
            let mut g = vec![0f32; BLOCK * BLOCK];
            let block_worst = |top: &TopK, b: usize| {
                top.worst[blocks[b].clone()]
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, &w| m.max(w))
            };
            for &(lb, a, c) in pairs.iter().skip(t).step_by(threads) {
                let need_q = lb <= block_worst(&top, a);
                let need_r = a != c && lb <= block_worst(&top, c);
                if !need_q && !need_r {
                    continue;
                }
                let (q0, r0) = (blocks[a].start, blocks[c].start);
                let (qn, rn) = (blocks[a].len(), blocks[c].len());
                a_bt(
                    &x[q0 * d..(q0 + qn) * d],
                    qn,
                    d,
                    &x[r0 * d..(r0 + rn) * d],
                    rn,
                    &mut g,
                );
                for qi in 0..qn {
                    let q = q0 + qi;
                    let nq = norms[q];
                    let dots = &g[qi * rn..(qi + 1) * rn];
                    // Chunks of 16 are tested together (vectorised) and
                    // entered only when a pair beats the k-th candidate of
                    // the query or, off the diagonal, of the reference.
                    for (t, (dc, nc)) in dots
                        .chunks(16)
                        .zip(norms[r0..r0 + rn].chunks(16))
                        .enumerate()
                    {
                        let base = r0 + t * 16;
                        let wq = if need_q {
                            top.worst[q]
                        } else {
                            f32::NEG_INFINITY
                        };
                        let wr = &top.worst[base..base + dc.len()];
                        let any =
                            dc.iter()
                                .zip(nc)
                                .zip(wr)
                                .fold(false, |acc, ((&dot, &nr), &w)| {
                                    let dist = nq + nr - 2.0 * dot;
                                    acc | (dist <= wq) | (need_r & (dist <= w))
                                });
                        if !any {
                            continue;
                        }
                        for (j, (&dot, &nr)) in dc.iter().zip(nc).enumerate() {
                            let r = base + j;
                            if r == q {
                                continue;
                            }
                            let dist = nq + nr - 2.0 * dot;
                            if need_q && dist <= top.worst[q] {
                                top.offer(q, dist, perm[r]);
                            }
                            if need_r && dist <= top.worst[r] {
                                top.offer(r, dist, perm[q]);
                            }
                        }
                    }
                }
            }
            top
        })
        .collect();
    // the threads' lists of each row, merged under the same total order
    let mut at = vec![0u32; n];
    for (pos, &row) in perm.iter().enumerate() {
        at[row as usize] = pos as u32;
    }
    let mut out = vec![(f32::INFINITY, u32::MAX); n * k];
    out.par_chunks_mut(k).enumerate().for_each(|(row, slots)| {
        let pos = at[row] as usize;
        let mut candidates: Vec<(f32, u32)> = Vec::with_capacity(partial.len() * k);
        for t in &partial {
            let s = pos * k;
            let len = t.len[pos] as usize;
            candidates.extend(
                t.dist[s..s + len]
                    .iter()
                    .copied()
                    .zip(t.idx[s..s + len].iter().copied()),
            );
        }
        keep_nearest(&mut candidates, slots);
    });
    out
}

/// Fills `slots` with the nearest distinct rows among `candidates`
/// (`(squared distance, row)`; sorted here by distance, then row: a row
/// offered twice keeps its nearest place), and `(∞, u32::MAX)` where there
/// are too few.
fn keep_nearest(candidates: &mut [(f32, u32)], slots: &mut [(f32, u32)]) {
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut kept = 0;
    for &c in candidates.iter() {
        if kept == slots.len() || c.1 == u32::MAX {
            break;
        }
        if !slots[..kept].iter().any(|m| m.1 == c.1) {
            slots[kept] = c;
            kept += 1;
        }
    }
    slots[kept..].fill((f32::INFINITY, u32::MAX));
}

impl Scanner for KnnLabelDisagreement {
    fn label_agnostic_only(&self) -> bool {
        true
    }

    fn code(&self) -> &'static str {
        "PS004"
    }
    fn name(&self) -> &'static str {
        "knn-label-disagreement"
    }
    fn summary(&self) -> &'static str {
        "Samples whose nearest neighbours in a label-agnostic view carry another label"
    }
    fn doc(&self) -> &'static str {
        DOC
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = KnnParams(self.params.clone());
        for (key, value) in options {
            let name = self.name();
            p = match key.as_str() {
                "k" => p.k(parse_value(name, key, value, "a whole number")?),
                "dims" => p.dims(parse_value(name, key, value, "a whole number")?),
                "min-agreement" => p.min_agreement(parse_value(name, key, value, "a number")?),
                "unanimity-ratio" => p.unanimity_ratio(parse_value(name, key, value, "a number")?),
                "isolation-ratio" => p.isolation_ratio(parse_value(name, key, value, "a number")?),
                "winsorize" => p.winsorize(parse_value(name, key, value, "a number")?),
                "exact-rows" => p.exact_rows(parse_value(name, key, value, "a whole number")?),
                "search-rows" => p.search_rows(parse_value(name, key, value, "a whole number")?),
                "search-trees" => p.search_trees(parse_value(name, key, value, "a whole number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &[
                            "k",
                            "dims",
                            "min-agreement",
                            "unanimity-ratio",
                            "isolation-ratio",
                            "winsorize",
                            "exact-rows",
                            "search-rows",
                            "search-trees",
                        ],
                    ))
                }
            };
        }
        Ok(Box::new(KnnLabelDisagreement::new(p.check()?)))
    }

    fn note(&self, input: &ScanInput<'_>) -> Option<String> {
        let n = input.labels.len();
        (self.reach(n) != Reach::Exact).then(|| {
            format!(
                "{}: {n} rows are more than exact-rows ({}), so each row's neighbours were searched \
                 among about {} nearby rows, not all of them (see `poisonscan explain {}`)",
                self.name(),
                self.params.exact_rows,
                self.params.search_rows,
                self.name()
            )
        })
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let (x, _) = input.label_agnostic();
        let n = x.rows();
        let (winsorize, view_dims) = self.view_options();
        let (view, dims) = input.neighbour_view(winsorize, view_dims);
        if dims == 0 || view.iter().all(|&v| v == 0.0) {
            return Ok(uninformative(input));
        }
        let k = self.params.k.min(n.saturating_sub(1)).max(1);
        let nb = input.view_neighbours(&view, dims, (winsorize, view_dims), k, self.reach(n));
        let labels = input.labels;
        let mut same = vec![0u64; n];
        let mut majority = vec![0u32; n];
        // the most common other label among the neighbours (the row's own
        // when there is none): where a row's neighbourhood points outside
        // its class, for the source test's strata
        let mut foreign = vec![0u32; n];
        // the label with strictly the most votes (`NONE` on a tie): the
        // class the neighbourhood recognises, for `recognised_classes`
        let mut plurality = vec![NONE; n];
        let mut counts = vec![0u32; input.n_classes];
        for i in 0..n {
            let neigh = &nb[i * k..(i + 1) * k];
            for &j in neigh {
                counts[labels[j as usize] as usize] += 1;
            }
            same[i] = counts[labels[i] as usize] as u64;
            // majority: most votes, then the row's own label, then the lowest id
            let mut m = labels[i];
            for &j in neigh {
                let c = labels[j as usize];
                if counts[c as usize] > counts[m as usize]
                    || (counts[c as usize] == counts[m as usize] && c < m && m != labels[i])
                {
                    m = c;
                }
            }
            majority[i] = m;
            foreign[i] = most_common_other(neigh, labels, &counts, labels[i], |c| c == labels[i]);
            let top = neigh
                .iter()
                .map(|&j| counts[labels[j as usize] as usize])
                .max();
            let mut leaders = neigh
                .iter()
                .map(|&j| labels[j as usize])
                .filter(|&c| Some(counts[c as usize]) == top);
            plurality[i] = match leaders.next() {
                Some(c) if leaders.all(|d| d == c) => c,
                _ => NONE,
            };
            for &j in neigh {
                counts[labels[j as usize] as usize] = 0;
            }
        }
        let skipped = |c: u32| input.skip_classes.contains(&c);
        let nc = input.n_classes;
        let mut raw = vec![f64::NAN; n];
        let mut log_p = vec![f64::NAN; n];
        let kf = k as f64;
        let floor = self.params.min_agreement * kf;
        // confusion[t][s]: rows labelled t whose label is in the minority
        // among their neighbours, whose majority is s
        let mut confusion = vec![0u64; nc * nc];
        let class_rows = input.class_rows();
        let scanned: Vec<u32> = (0..nc as u32)
            .filter(|&c| !class_rows[c as usize].is_empty() && !skipped(c))
            .collect();
        let total: usize = scanned.iter().map(|&c| class_rows[c as usize].len()).sum();
        // a class is judged when its neighbourhoods recognise it (a core of
        // rows whose neighbours' plurality is their own label) more often
        // than they recognise it for rows at large, and than for the rows
        // of a better-recognised class whose kind it names part of
        let mut pointed = vec![0u64; nc * nc];
        for &c in &scanned {
            for &i in &class_rows[c as usize] {
                if plurality[i] != NONE {
                    pointed[c as usize * nc + plurality[i] as usize] += 1;
                }
            }
        }
        let sizes: Vec<usize> = class_rows.iter().map(Vec::len).collect();
        // A row's own *kind*: its label and its kin's (see `kin_classes`;
        // most data sets have none, and these are `same` and `foreign`). The
        // isolation and source tests, the contradicted pattern and the
        // carried trigger's seeds count by kind: a row among its kin is no
        // more relabelled than one among its own. Each row's evidence stays
        // by label (see the module docs).
        let kin = kin_classes(&pointed, nc, &scanned, &sizes);
        let kinds = kin
            .iter()
            .any(|k| !k.is_empty())
            .then(|| kind_counts(&nb, k, labels, &kin, nc));
        let (kind_same, kind_foreign): (&[u64], &[u32]) = match &kinds {
            Some(kinds) => (&kinds.same, &kinds.foreign),
            None => (&same, &foreign),
        };
        // Own-label share two steps away: among the neighbours of a row's
        // neighbours (the row itself left out). A relabelled row deep inside
        // its true class sees none of its label there either; a row on a
        // natural boundary sees its own class close by.
        let second: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| two_step_share(&nb, k, i, |l| labels[l] == labels[i]))
            .collect();
        struct Stats {
            /// The agreement rate of the class's rows that are not contradicted.
            q: f64,
            mean_agreement: f64,
            contradicted: u64,
            minority: Minority,
        }
        // the row's label is in the minority among its neighbours
        let minority_row: Vec<bool> = (0..n)
            .map(|i| 2 * same[i] < k as u64 && majority[i] != labels[i])
            .collect();
        // by kind, for the contradicted pattern and the carried trigger's
        // seeds (the rows a relabelling put among another kind)
        let kind_minority: &[bool] = match &kinds {
            Some(kinds) => &kinds.minority,
            None => &minority_row,
        };
        let mut stats = Vec::with_capacity(scanned.len());
        for &c in &scanned {
            let rows = &class_rows[c as usize];
            let mean_agreement =
                rows.iter().map(|&i| same[i] as f64).sum::<f64>() / (rows.len() as f64 * kf);
            // The null's agreement rate comes from the rows that are not
            // contradicted, so that a poisoned minority does not lower it.
            let clean: Vec<f64> = rows
                .iter()
                .map(|&i| same[i] as f64)
                .filter(|&s| s > floor)
                .collect();
            let q = if clean.is_empty() {
                mean_agreement
            } else {
                clean.iter().sum::<f64>() / (clean.len() as f64 * kf)
            }
            .clamp(0.5, 1.0 - 0.5 / kf);
            let mut contradicted = 0u64;
            let mut minority = Minority {
                rows: rows.len() as u64,
                ..Minority::default()
            };
            for &i in rows {
                (raw[i], log_p[i]) = row_evidence(same[i], second[i], k, q);
                if same[i] as f64 <= floor && majority[i] != c {
                    contradicted += 1;
                }
                if minority_row[i] {
                    confusion[c as usize * nc + majority[i] as usize] += 1;
                    minority.minority += 1;
                    for &j in &nb[i * k..(i + 1) * k] {
                        if labels[j as usize] == c {
                            minority.own += 1;
                            minority.own_minority += minority_row[j as usize] as u64;
                        }
                    }
                }
            }
            stats.push(Stats {
                q,
                mean_agreement,
                contradicted,
                minority,
            });
        }
        let recognition = recognised_classes(&pointed, nc, &scanned, &sizes, &kin);
        let judged: Vec<bool> = recognition.iter().map(|r| r.judged).collect();
        let mut direction = direction_test(&confusion, nc, &scanned, &sizes, None);
        // The isolation counts of every class and, split by the class each
        // row's neighbourhood points to, of each source (each with the
        // class's share of the rows of the two), and their tests: by kind
        // (`counted`: each class with its kin's rows) or by label.
        let isolation_and_sources =
            |same: &[u64], foreign: &[u32], counted: &dyn Fn(usize) -> usize| {
                let own: Vec<OwnCounts> = scanned
                    .iter()
                    .map(|&c| {
                        let rows = &class_rows[c as usize];
                        let prior = counted(c as usize) as f64 / total.max(1) as f64;
                        OwnCounts::from_counts(rows.iter().map(|&i| same[i] as usize), k, prior)
                    })
                    .collect();
                let isolation = isolation_tests(
                    &own,
                    k,
                    self.params.unanimity_ratio,
                    self.params.isolation_ratio,
                    &judged,
                );
                let sources: Vec<Vec<OwnCounts>> = scanned
                    .iter()
                    .map(|&c| {
                        let n_t = counted(c as usize) as f64;
                        let mut from: Vec<OwnCounts> = (0..nc)
                            .map(|s| OwnCounts {
                                prior: n_t / (n_t + sizes[s] as f64),
                                ..OwnCounts::default()
                            })
                            .collect();
                        for &i in &class_rows[c as usize] {
                            if foreign[i] != c {
                                from[foreign[i] as usize].add(same[i] as usize, k);
                            }
                        }
                        from
                    })
                    .collect();
                let by_source =
                    source_tests(&own, &sources, &isolation, k, self.params.unanimity_ratio);
                (own, isolation, by_source)
            };
        let kind_size =
            |c: usize| sizes[c] + kin[c].iter().map(|&u| sizes[u as usize]).sum::<usize>();
        let (own, mut isolation, mut by_source) =
            isolation_and_sources(kind_same, kind_foreign, &kind_size);
        // Kin only explain evidence away: a relabelled row is alone by label
        // and by kind, a natural row among its kin by label only. Counted
        // by kind, rows of a grid of categories (a designed experiment) can
        // move from one own-kind neighbour to several and leave the rows
        // with none looking many; each test keeps the weaker of the two
        // counts' evidence.
        if kinds.is_some() {
            let (_, by_label, sources_by_label) =
                isolation_and_sources(&same, &foreign, &|c: usize| sizes[c]);
            for (t, (l, s)) in by_label.iter().zip(&sources_by_label).enumerate() {
                let iso = &mut isolation[t];
                iso.unanimity_log_p = iso.unanimity_log_p.max(l.unanimity_log_p);
                iso.isolation_log_p = iso.isolation_log_p.max(l.isolation_log_p);
                iso.pooled_log_p = iso.pooled_log_p.max(l.pooled_log_p);
                by_source[t].log_p = by_source[t].log_p.max(s.log_p);
            }
        }
        let mut coherence = coherence_test(&stats.iter().map(|s| s.minority).collect::<Vec<_>>());
        // a class with no core is reported, not judged: its counts still
        // calibrate the other classes' nulls above
        for (t, _) in judged.iter().enumerate().filter(|(_, &j)| !j) {
            direction[t].unjudge();
            isolation[t].unjudge();
            by_source[t].unjudge();
            coherence[t].unjudge();
        }
        // In a class whose minority rows are coherent on their own (at 1 %
        // over the classes and the class tests), the rows the planted group
        // supports lose that support: see `pocket`.
        // images add the contradicted-pattern test
        let tests = CLASS_TESTS + input.image.is_some() as usize;
        let alone = class_gate_level(scanned.len()) - (tests as f64).ln();
        // In a class whose source test is significant on its own, a row
        // counted by it weighs its p-value by the share of natural rows
        // estimated for its source (weighted p-values: Genovese, Roeder and
        // Wasserman 2006): rows alone among a class the target does not
        // border are mostly planted, rows alone at a natural boundary mostly
        // not, and their own evidence tells them apart no better than that.
        for (&c, src) in scanned.iter().zip(&by_source) {
            if src.log_p > alone {
                continue;
            }
            for &i in &class_rows[c as usize] {
                let s = kind_foreign[i] as usize;
                if s == c as usize || kind_same[i] as usize > src.most_own {
                    continue;
                }
                let natural = (1.0 - src.planted_share[s]).max(MIN_NATURAL_SHARE);
                log_p[i] += natural.ln();
            }
        }
        let mut pocket_rows = vec![0usize; scanned.len()];
        for (t, (&c, coh)) in scanned.iter().zip(&coherence).enumerate() {
            if coh.log_p > alone {
                continue;
            }
            let rows = &class_rows[c as usize];
            let suspect = pocket(&nb, k, labels, rows, &minority_row);
            pocket_rows[t] = rows.iter().filter(|&&i| suspect[i]).count();
            let credible = |j: usize| labels[j] == c && !suspect[j];
            let q = stats[t].q;
            for &i in rows {
                let own = nb[i * k..(i + 1) * k]
                    .iter()
                    .filter(|&&j| credible(j as usize))
                    .count() as u64;
                let (r, lp) = row_evidence(own, two_step_share(&nb, k, i, credible), k, q);
                if lp < log_p[i] {
                    (raw[i], log_p[i]) = (r, lp);
                }
            }
        }
        // A group that, moved back by its shared offset, lands among other
        // classes (see `foreign`): its rows are judged by where they land.
        let view = MatrixRef::new(&view, n, dims).expect("view shape");
        let all_rows: Vec<usize> = (0..n)
            .filter(|&i| scanned.binary_search(&labels[i]).is_ok())
            .collect();
        let keys = input.row_keys();
        let references = References::new(view, labels, &keys, &all_rows, input.seed);
        let foreign = foreign_group_test(&references, &class_rows, &scanned, k, input.seed);
        for ((&c, group), st) in scanned.iter().zip(&foreign).zip(&stats) {
            if group.log_p > alone {
                continue;
            }
            let landing = references.land(&group.group, &group.offset, c, k);
            for (&i, &(source, count)) in group.group.iter().zip(&landing) {
                // only a landing inside one class says where a row came
                // from; the class's own rows caught in the split land mixed
                if (count as f64) < LANDED_SHARE * kf {
                    continue;
                }
                let own = (k - count) as u64;
                let (r, lp) = row_evidence(own, own as f64 / kf, k, st.q);
                if lp < log_p[i] {
                    (raw[i], log_p[i]) = (r, lp);
                    majority[i] = source;
                }
            }
        }
        // With images: a block of exact values a class's contradicted rows
        // share, and neither the other classes' rows nor its own agreeing
        // rows hold as often (see `local`) — a patch, wherever it sits.
        let mut contradicted_patterns = match input.image {
            Some(shape) => contradicted_pattern_tests(
                Pictures {
                    x,
                    shape,
                    keys: &keys,
                },
                &class_rows,
                &scanned,
                kind_minority,
                alone,
                input.seed,
            ),
            None => vec![LocalPattern::untested(); scanned.len()],
        };
        for (t, _) in judged.iter().enumerate().filter(|(_, &j)| !j) {
            contradicted_patterns[t] = LocalPattern::untested();
        }
        // the smallest p-value of each class's tests, with its estimate of
        // the rows behind it
        let best: Vec<(f64, f64)> = (0..scanned.len())
            .map(|t| {
                let (iso, src) = (&isolation[t], &by_source[t]);
                let iso_lp = iso
                    .unanimity_log_p
                    .min(iso.isolation_log_p)
                    .min(iso.pooled_log_p);
                [
                    (iso_lp, iso.excess),
                    // the source test refines the isolation tests: where they
                    // are significant on their own too, its estimate is not less
                    (
                        src.log_p,
                        if iso_lp <= alone {
                            src.excess.max(iso.excess)
                        } else {
                            src.excess
                        },
                    ),
                    (direction[t].log_p, direction[t].excess),
                    (coherence[t].log_p, coherence[t].excess),
                    (foreign[t].log_p, foreign[t].excess),
                ]
                .into_iter()
                .fold((0.0, 0.0), |best, t| if t.0 < best.0 { t } else { best })
            })
            // the contradicted pattern counts the planted rows that hold the
            // block whole (on MNIST a patch landing on a stroke leaves none);
            // where it is the most significant and another test is
            // significant on its own too, the estimate is not less than that
            // test's count of contradicted rows
            .zip(&contradicted_patterns)
            .zip(&scanned)
            .map(|((best, cp), &c)| {
                if cp.log_p >= best.0 {
                    return best;
                }
                let held = cp.excess(class_rows[c as usize].len());
                (
                    cp.log_p,
                    if best.0 <= alone {
                        held.max(best.1)
                    } else {
                        held
                    },
                )
            })
            .collect();
        // A class these tests fail names its planted rows: the minority
        // rows among its most significant ones, as many as its estimate.
        // The classes whose minority rows carry what those rows share (see
        // `carried`) fail too.
        let failed_level = (0.5 * 0.01 / scanned.len().max(1) as f64).ln();
        // A class its contradicted pattern fails names the minority rows
        // holding the block: they are what the planted rows share.
        let seeds: Vec<Vec<usize>> = scanned
            .iter()
            .zip(&best)
            .zip(&contradicted_patterns)
            .map(|((&c, &(lp, excess)), cp)| {
                if lp + (tests as f64).ln() > failed_level || excess < MIN_SEED_EXCESS {
                    return Vec::new();
                }
                if cp.log_p <= lp && !cp.rows.is_empty() {
                    return cp
                        .rows
                        .iter()
                        .copied()
                        .filter(|&i| kind_minority[i])
                        .collect();
                }
                let mut rows: Vec<usize> = class_rows[c as usize]
                    .iter()
                    .copied()
                    .filter(|&i| kind_minority[i])
                    .collect();
                rows.sort_by(|&a, &b| {
                    log_p[a]
                        .total_cmp(&log_p[b])
                        .then(keys[a].cmp(&keys[b]))
                        .then(a.cmp(&b))
                });
                rows.truncate(excess.round() as usize);
                rows
            })
            .collect();
        let hood = Neighbourhoods {
            x,
            labels,
            nb: &nb,
            k,
            same: &same,
            majority: &majority,
            minority: &minority_row,
            keys: &keys,
        };
        // wider inputs (colour or large images) reach the carried-trigger
        // test through the scan's shared random projection: a trigger added
        // to rows stays a shift shared by their projections
        let projected =
            (x.cols() > carried::MAX_FEATURES).then(|| input.projected(carried::MAX_FEATURES));
        let carried_hood = match &projected {
            Some(p) => Neighbourhoods {
                x: MatrixRef::new(p, n, carried::MAX_FEATURES)
                    .expect("the projection has the inputs' rows"),
                ..hood
            },
            None => hood,
        };
        let carried =
            carried_trigger_tests(&carried_hood, &class_rows, &scanned, &seeds, input.seed);
        // In a class the label tests failed, with images: the contradicted
        // rows that one smooth displacement of their neighbours explains
        // (see `warp`). Where they are more than the other classes' null
        // gives at the failing level, at least a tenth of the class's
        // contradicted rows, and among the rows the failing test named at
        // least half as often as chance, they are behind the failure too.
        let warps: Vec<SharedWarp> = scanned
            .iter()
            .zip(&seeds)
            .map(|(&c, seeds)| match input.image {
                Some(shape) if !seeds.is_empty() => {
                    shared_warp_test(&hood, shape, &class_rows, &scanned, c, input.seed)
                }
                _ => SharedWarp::untested(),
            })
            .collect();
        let mut warp_excess = vec![0.0; scanned.len()];
        for (t, w) in warps.iter().enumerate() {
            let named: std::collections::HashSet<usize> = seeds[t].iter().copied().collect();
            if !w.behind_failure(&named, failed_level) {
                continue;
            }
            // every contradicted row is also judged by its own share of the
            // null (a natural row alone among bags and a warped bag are
            // both unanimous; only one is explained); an explained row is
            // one of the rows behind the class's failure, and the ones the
            // failing test did not name add to its estimate
            let mut added = 0usize;
            for r in &w.rows {
                if r.explained {
                    log_p[r.row] = log_p[r.row].min(best[t].0);
                    added += !named.contains(&r.row) as usize;
                }
                log_p[r.row] += r.log_p;
            }
            warp_excess[t] =
                (added as f64 - crate::warp::NULL_SHARE * w.minority() as f64).max(0.0);
        }
        // In a class the label tests failed, with images: the rows holding
        // one block of exact values that the rows the failing test named
        // share and other classes' rows do not (see `local`) — a patch,
        // wherever it sits — are behind the failure, and the estimate is
        // at least their number.
        // A class its contradicted pattern fails has its rows already; each
        // pattern comes with whether its rows are behind the failure.
        let patterns: Vec<(LocalPattern, bool)> = scanned
            .iter()
            .zip(&seeds)
            .zip(&contradicted_patterns)
            .map(|((&c, seeds), cp)| match input.image {
                _ if cp.log_p + (tests as f64).ln() <= failed_level && !cp.rows.is_empty() => {
                    (cp.clone(), true)
                }
                Some(shape) if !seeds.is_empty() => {
                    let p = local_pattern_test(
                        Pictures {
                            x,
                            shape,
                            keys: &keys,
                        },
                        &class_rows,
                        &scanned,
                        c,
                        seeds,
                        input.seed,
                    );
                    let behind = p.behind_failure(failed_level);
                    (p, behind)
                }
                _ => (LocalPattern::untested(), false),
            })
            .collect();
        let mut pattern_excess = vec![0.0; scanned.len()];
        for (t, ((p, behind), &c)) in patterns.iter().zip(&scanned).enumerate() {
            if !behind {
                continue;
            }
            // each holding row is judged as one of the group: by the
            // pattern's own p-value, as strong as the class's or stronger
            for &r in &p.rows {
                log_p[r] = log_p[r].min(p.log_p).min(best[t].0);
            }
            pattern_excess[t] = p.excess(class_rows[c as usize].len());
        }
        // in a class the test fails, a carrying row is judged as one of the
        // group it found (as a foreign group's rows are by where they land),
        // and by the share of the class's agreeing rows that carry the
        // trigger as far: it is both contradicted and carrying, where the
        // class's natural boundary rows are only contradicted (MNIST, a
        // patch on 0.3 % all-to-all: among the 4s, 13 unanimous natural
        // rows looking like 9 tied with the 14 planted ones)
        for ct in &carried {
            if ct.log_p > alone {
                continue;
            }
            for &i in &ct.rows {
                log_p[i] = log_p[i].min(ct.log_p) + ct.row_log_p;
            }
        }
        let mut classes = Vec::with_capacity(scanned.len());
        for (t, &c) in scanned.iter().enumerate() {
            let (st, dir, iso) = (&stats[t], &direction[t], &isolation[t]);
            let (coh, fg, src) = (&coherence[t], &foreign[t], &by_source[t]);
            let rows = class_rows[c as usize].len();
            let (class_log_p, excess) = best[t];
            // the foreign group's rows are not the minority rows the other
            // tests count: where it is significant on its own (its rows
            // judged where they land), the estimate covers it too — here,
            // not in `best`, whose count names minority rows as the
            // carried trigger's seeds
            let beside = if fg.log_p <= alone { fg.excess } else { 0.0 };
            let excess = excess.max(beside).max(pattern_excess[t]) + warp_excess[t];
            let mut values = vec![
                ("mean_agreement", st.mean_agreement),
                ("recognised_rows", recognition[t].own as f64),
                ("judged", judged[t] as u8 as f64),
                ("contradicted", st.contradicted as f64),
                ("contradicted_rate", st.contradicted as f64 / rows as f64),
                ("noise_rows", st.contradicted as f64),
                ("kin_classes", kin[c as usize].len() as f64),
                ("unanimous", own[t].none as f64),
                ("one_own_neighbour", own[t].one as f64),
                ("mixed_neighbourhood", own[t].mixed as f64),
                ("unanimity_log_p", iso.unanimity_log_p),
                ("unanimity_null_ratio", iso.unanimity_null),
                ("isolation_log_p", iso.isolation_log_p),
                ("isolation_null_ratio", iso.isolation_null),
                ("pooled_log_p", iso.pooled_log_p),
                ("source_log_p", src.log_p),
                ("inflow", dir.inflow as f64),
                ("outflow", dir.outflow as f64),
                ("direction_log_p", dir.log_p),
                ("natural_spread_pairs", dir.tau_pair),
                ("natural_spread_classes", dir.tau_class),
                ("minority_rows", st.minority.minority as f64),
                ("coherence_log_odds", coh.log_odds),
                ("coherence_log_p", coh.log_p),
                ("pocket_rows", pocket_rows[t] as f64),
                ("foreign_group_log_p", fg.log_p),
                ("foreign_group_purity", fg.purity),
                ("foreign_group_separation", fg.separation),
                ("foreign_group_rows", fg.group.len() as f64),
                ("foreign_group_on_groups", fg.on_groups),
                ("excess_rows", excess.round()),
            ];
            if input.image.is_some() {
                let cp = &contradicted_patterns[t];
                values.extend([
                    ("contradicted_pattern_log_p", cp.log_p),
                    ("contradicted_pattern_rows", cp.rows.len() as f64),
                ]);
            }
            if let Some(s) = dir.top_source {
                values.push(("top_source", s as f64));
            }
            if let Some(s) = recognition[t].part_of {
                values.push(("kind_source", s as f64));
            }
            let w = &warps[t];
            if w.tested {
                values.extend([
                    ("shared_warp_ln_p", w.log_p),
                    ("shared_warp_rows", w.explained() as f64),
                ]);
            }
            let lp = &patterns[t].0;
            if lp.named > 0 {
                values.extend([
                    ("local_pattern_ln_p", lp.log_p),
                    ("local_pattern_rows", lp.rows.len() as f64),
                ]);
            }
            // Bonferroni over the class tests, each named `<test>_log_p`
            let mut log_p = sub_test_log_p(values.iter().copied());
            debug_assert_eq!(log_p, Some((class_log_p + (tests as f64).ln()).min(0.0)));
            // The carried-trigger test runs only where another class failed
            // (gatekeeping): it stands beside them at its own p-value
            let ct = &carried[t];
            if ct.tested {
                // the rows it finds are the most specific estimate: they
                // carry the trigger, where a label test counts every
                // contradicted row beyond its null
                if ct.log_p < log_p.unwrap_or(0.0) {
                    log_p = Some(ct.log_p);
                    let at = values.iter().position(|(k, _)| *k == "excess_rows");
                    values[at.expect("excess_rows is a value")].1 = ct.excess.round();
                }
                values.extend([
                    ("carried_trigger_log_p", ct.log_p),
                    ("carried_trigger_rows", ct.rows.len() as f64),
                    ("carried_trigger_cut", ct.cut),
                    ("carried_trigger_discovered", ct.discovered as u8 as f64),
                ]);
            }
            classes.push(ClassDiagnostics {
                class: c,
                values,
                log_p,
            });
        }
        Ok(ScanOutput {
            raw,
            log_p,
            classes,
            suspected: Some(majority),
            ungated_log_p: None,
            confusion: Some(confusion),
        })
    }
}

/// No label: a neighbourhood with a tie for the most votes.
const NONE: u32 = u32::MAX;

/// Class tests behind a class's p-value: unanimity, isolation, pooled,
/// source, direction, coherence and foreign group (Bonferroni over them);
/// images add the contradicted pattern.
const CLASS_TESTS: usize = 7;

/// Least estimate of planted rows for a failed class to name its rows as
/// seeds of the carried-trigger test (the fusion's `min-flagged`).
const MIN_SEED_EXCESS: f64 = 3.0;

/// Least share of natural rows a source of the source test is weighted
/// by (a source whose counted rows are all beyond the typical ratio).
const MIN_NATURAL_SHARE: f64 = 0.01;

/// Least share of a foreign group's row's landing neighbours that carry one
/// label for the row to be judged where it lands (MNIST, 10 % patches: with
/// every landing counted, the target's own rows caught in the split cost
/// 12 points of flagged precision).
const LANDED_SHARE: f64 = 0.9;

/// A row's raw score and log p-value from its `own` agreeing neighbours and
/// its agreeing share two steps away (weighted as `k` more neighbours),
/// against Binomial(`2k`, `q`): a relabelled row deep inside its true class
/// finds its label in neither.
fn row_evidence(own: u64, second: f64, k: usize, q: f64) -> (f64, f64) {
    let agree = own + (second * k as f64).round() as u64;
    (
        1.0 - agree as f64 / (2 * k) as f64,
        ln_binomial_lower(2 * k as u64, q, agree),
    )
}

/// The most common label among a row's neighbours (`neigh`, with `counts`
/// of each label among them) that `mine` does not claim, the lowest on a
/// tie; `own` (the row's label) when `mine` claims them all.
fn most_common_other(
    neigh: &[u32],
    labels: &[u32],
    counts: &[u32],
    own: u32,
    mine: impl Fn(u32) -> bool,
) -> u32 {
    let mut f = own;
    for &j in neigh {
        let c = labels[j as usize];
        if !mine(c)
            && (f == own
                || counts[c as usize] > counts[f as usize]
                || (counts[c as usize] == counts[f as usize] && c < f))
        {
            f = c;
        }
    }
    f
}

/// A row's neighbours counted by kind (see [`kind_counts`]).
struct Kinds {
    /// Neighbours of the row's kind.
    same: Vec<u64>,
    /// The most common label of the others (the row's own when none).
    foreign: Vec<u32>,
    /// The row's kind is in the minority among its neighbours: under half
    /// of them, and fewer than one other label holds.
    minority: Vec<bool>,
}

/// Per row, its neighbours of its own kind — its label or one of its kin
/// (`kin`, by class; see [`kin_classes`]) — and the most common label of
/// the others, the lowest on a tie (its own label when every neighbour is
/// of its kind): `same`, `foreign` and the minority rows of the scan,
/// counted by kind.
fn kind_counts(nb: &[u32], k: usize, labels: &[u32], kin: &[Vec<u32>], n_classes: usize) -> Kinds {
    let n = labels.len();
    let mut same = vec![0u64; n];
    let mut foreign = vec![0u32; n];
    let mut minority = vec![false; n];
    let mut counts = vec![0u32; n_classes];
    for i in 0..n {
        let own = labels[i];
        let of_kind = |c: u32| c == own || kin[own as usize].contains(&c);
        let neigh = &nb[i * k..(i + 1) * k];
        for &j in neigh {
            counts[labels[j as usize] as usize] += 1;
        }
        same[i] = neigh
            .iter()
            .filter(|&&j| of_kind(labels[j as usize]))
            .count() as u64;
        let f = most_common_other(neigh, labels, &counts, own, of_kind);
        foreign[i] = f;
        minority[i] = 2 * same[i] < k as u64 && f != own && counts[f as usize] as u64 > same[i];
        for &j in neigh {
            counts[labels[j as usize] as usize] = 0;
        }
    }
    Kinds {
        same,
        foreign,
        minority,
    }
}

/// Share of row `i`'s neighbours' neighbours (`i` left out) for which
/// `counts` holds; 0 when there are none.
fn two_step_share(nb: &[u32], k: usize, i: usize, counts: impl Fn(usize) -> bool) -> f64 {
    let (mut hit, mut all) = (0u32, 0u32);
    for &j in &nb[i * k..(i + 1) * k] {
        for &l in &nb[j as usize * k..(j as usize + 1) * k] {
            if l as usize != i {
                all += 1;
                hit += counts(l as usize) as u32;
            }
        }
    }
    if all == 0 {
        0.0
    } else {
        hit as f64 / all as f64
    }
}

/// The rows of a class (`rows`) that a planted group supports: its minority
/// rows, then, repeatedly, every row of the class at least half of whose
/// own-label neighbours are already in the set. A dense planted group is
/// connected to its minority fringe and is taken whole (MNIST, blend 5 %,
/// raw pixels: 2,523 rows, 2,463 of them planted, where the minority rows
/// alone hold 1,757); along a natural boundary the set barely grows past
/// the minority rows (a clean MNIST class: 290 → 301). Indexed by row over
/// the whole data set.
fn pocket(nb: &[u32], k: usize, labels: &[u32], rows: &[usize], minority: &[bool]) -> Vec<bool> {
    let mut suspect = vec![false; labels.len()];
    for &i in rows {
        suspect[i] = minority[i];
    }
    loop {
        let grown: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| !suspect[i])
            .filter(|&i| {
                let (mut own, mut held) = (0, 0);
                for &j in &nb[i * k..(i + 1) * k] {
                    if labels[j as usize] == labels[i] {
                        own += 1;
                        held += suspect[j as usize] as usize;
                    }
                }
                own > 0 && 2 * held >= own
            })
            .collect();
        if grown.is_empty() {
            return suspect;
        }
        for i in grown {
            suspect[i] = true;
        }
    }
}

/// The output when every row is the same point of the label-agnostic view
/// (no feature varies): neighbours carry no evidence either way, so no row
/// and no class is suspicious.
fn uninformative(input: &ScanInput<'_>) -> ScanOutput {
    let c = input.n_classes;
    ScanOutput {
        confusion: Some(vec![0; c * c]),
        ..ScanOutput::no_evidence(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::testutil::auroc;

    #[test]
    fn a_pocket_grows_from_the_minority_rows_through_the_rows_they_support() {
        // k = 2. Class 0: row 0 lies among class 1 (a minority row); row 1's
        // only own-label neighbour is row 0; half of row 2's are row 1;
        // rows 3–5 support each other. Class 1: rows 6–8.
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1];
        let nb: Vec<u32> = [
            [7, 8],
            [0, 7],
            [1, 3],
            [4, 5],
            [3, 5],
            [3, 4],
            [7, 8],
            [6, 8],
            [6, 7],
        ]
        .concat();
        let minority = [true, false, false, false, false, false, false, false, false];
        let rows: Vec<usize> = (0..6).collect();
        let suspect = pocket(&nb, 2, &labels, &rows, &minority);
        let held: Vec<usize> = (0..9).filter(|&i| suspect[i]).collect();
        assert_eq!(held, vec![0, 1, 2]);
        // without a minority row, nothing
        let suspect = pocket(&nb, 2, &labels, &rows, &[false; 9]);
        assert!(suspect.iter().all(|&s| !s));
    }
    use crate::MatrixRef;

    /// `classes` Gaussian blobs in 20 dimensions, `per_class` rows each;
    /// `relabel(row, class)` gives a planted wrong label, or `None`.
    fn blobs(
        classes: usize,
        per_class: usize,
        seed: u64,
        relabel: impl Fn(usize, usize) -> Option<u32>,
    ) -> (Vec<f32>, Vec<u32>, Vec<bool>) {
        let d = 20;
        let mut rng = SplitMix64::new(seed);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d).map(|_| 2.0 * rng.normal()).collect())
            .collect();
        let (mut data, mut labels, mut truth) = (vec![], vec![], vec![]);
        for i in 0..classes * per_class {
            let c = i % classes;
            for &v in &centres[c] {
                data.push((v + rng.normal()) as f32);
            }
            let wrong = relabel(i, c);
            labels.push(wrong.unwrap_or(c as u32));
            truth.push(wrong.is_some());
        }
        (data, labels, truth)
    }

    /// Appends to [`blobs`]`(classes, 400, seed, …)` copies of 500 of its
    /// rows of classes 1 and up, plus one shared shift, labelled 0: a world
    /// of their own, each other's neighbours. Returns their source classes.
    fn plant_world(
        data: &mut Vec<f32>,
        labels: &mut Vec<u32>,
        truth: &mut Vec<bool>,
        classes: usize,
        seed: u64,
    ) -> Vec<u32> {
        let d = data.len() / labels.len();
        let (extra, _, _) = blobs(classes, 400, seed, |_, _| None);
        let mut rng = SplitMix64::new(99);
        let shift: Vec<f32> = (0..d).map(|_| 5.0 * rng.normal() as f32).collect();
        let mut sources = Vec::new();
        for i in (0..classes * 400).filter(|i| i % classes != 0).take(500) {
            data.extend(
                extra[i * d..(i + 1) * d]
                    .iter()
                    .zip(&shift)
                    .map(|(v, s)| v + s),
            );
            labels.push(0);
            truth.push(true);
            sources.push((i % classes) as u32);
        }
        sources
    }

    /// `kinds` kinds of `per_kind` rows in `d` columns that border each
    /// other (Gaussian about seeded centres 0.7 apart per column); row `i`
    /// is of kind `i % kinds`.
    fn bordering_kinds(kinds: usize, per_kind: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        let centres: Vec<f64> = (0..kinds * d).map(|_| 0.7 * rng.normal()).collect();
        (0..kinds * per_kind * d)
            .map(|t| (centres[(t / d % kinds) * d + t % d] + rng.normal()) as f32)
            .collect()
    }

    /// [`bordering_kinds`]' labels `clean` with 146 rows of the other kinds
    /// (every 41st) relabelled 0, and which those are.
    fn relabelled_into_zero(clean: &[u32], kinds: usize) -> (Vec<u32>, Vec<bool>) {
        let truth: Vec<bool> = (0..clean.len())
            .map(|i| i % kinds != 0 && i % 41 == 1)
            .collect();
        let labels = clean
            .iter()
            .zip(&truth)
            .map(|(&l, &t)| if t { 0 } else { l })
            .collect();
        (labels, truth)
    }

    /// Class 0 fails (`ln p` under −13.8) and no other comes near (−4).
    fn only_zero_fails(out: &ScanOutput) {
        let zero = &out.classes[0];
        assert!(zero.log_p.unwrap() < (1e-6f64).ln(), "{zero:?}");
        for c in &out.classes[1..] {
            assert!(c.log_p.unwrap() > -4.0, "{c:?}");
        }
    }

    #[test]
    fn labels_that_split_one_kind_at_random_are_kin_not_relabelled() {
        // Six kinds of rows that border each other, each labelled at random
        // with one of four sibling labels (24 classes: synonyms from merged
        // sources, or fine-grained labels the inputs do not tell apart): a
        // row's neighbours carry its siblings' labels three times as often
        // as its own, and on the boundary with another kind it is alone
        // there, as a relabelled row is.
        let (kinds, per_kind, d) = (6, 1200, 20);
        let data = bordering_kinds(kinds, per_kind, d, 4);
        let kind = |i: usize| i % kinds;
        let sibling = |i: usize| (SplitMix64::new(i as u64).next_u64() % 4) as u32;
        let clean: Vec<u32> = (0..kinds * per_kind)
            .map(|i| 4 * kind(i) as u32 + sibling(i))
            .collect();
        let x = MatrixRef::new(&data, clean.len(), d).unwrap();
        let scan = |labels: &[u32]| {
            KnnLabelDisagreement::DEFAULT
                .scan(&ScanInput::new(x, labels, 4 * kinds))
                .unwrap()
        };
        let out = scan(&clean);
        for c in &out.classes {
            assert!(c.log_p.unwrap() > -4.0, "{c:?}");
            // each finds some of its three siblings (at 300 rows a class, a
            // pair whose rows point to each other under half as often as to
            // themselves by chance is left out)
            assert!(c.value("kin_classes").unwrap() >= 1.0, "{c:?}");
        }
        // 146 rows of the other kinds relabelled 0 (a label of kind 0): alone
        // among another kind, whatever its labels
        let (labels, truth) = relabelled_into_zero(&clean, kinds);
        let out = scan(&labels);
        only_zero_fails(&out);
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        let raw: Vec<f64> = rows.iter().map(|&i| out.raw[i]).collect();
        let planted: Vec<bool> = rows.iter().map(|&i| truth[i]).collect();
        assert!(planted.iter().filter(|&&p| p).count() >= 60);
        let auc = crate::testutil::auroc(&raw, &planted);
        assert!(auc > 0.9, "AUROC {auc}");
    }

    #[test]
    fn a_synonym_for_part_of_a_class_is_not_judged_and_the_class_still_is() {
        // Six kinds of rows that border each other, one label each, but 30 %
        // of kind 0 carry a label of their own, 6 (a synonym one of two
        // merged sources used): its rows' neighbours are mostly kind 0's
        // other label, and label 0's rows do not point back (not kin).
        let (kinds, per_kind, d) = (6, 1200, 20);
        let data = bordering_kinds(kinds, per_kind, d, 5);
        let kind = |i: usize| i % kinds;
        let synonym = |i: usize| kind(i) == 0 && (i / kinds) % 10 < 3;
        let clean: Vec<u32> = (0..kinds * per_kind)
            .map(|i| if synonym(i) { 6 } else { kind(i) as u32 })
            .collect();
        let x = MatrixRef::new(&data, clean.len(), d).unwrap();
        let scan = |labels: &[u32]| {
            KnnLabelDisagreement::DEFAULT
                .scan(&ScanInput::new(x, labels, kinds + 1))
                .unwrap()
        };
        let out = scan(&clean);
        let six = &out.classes[6];
        // its rows point to label 0 as label 0's rows do, more than to it
        assert_eq!(six.value("judged"), Some(0.0), "{six:?}");
        assert_eq!(six.value("kind_source"), Some(0.0), "{six:?}");
        assert_eq!(six.value("kin_classes"), Some(0.0), "{six:?}");
        for c in &out.classes {
            assert!(c.log_p.unwrap() > -4.0, "{c:?}");
        }
        // 146 rows of kinds 1–5 relabelled 0: label 0 keeps its core, and
        // its planted rows fail it
        let (labels, _) = relabelled_into_zero(&clean, kinds);
        only_zero_fails(&scan(&labels));
    }

    #[test]
    fn a_planted_world_of_its_own_fails_by_where_it_lands() {
        // 500 rows of classes 1–7 plus one shared shift, labelled 0: more
        // than class 0's own 400, each other's neighbours, none in the
        // minority of its neighbourhood.
        let (classes, d, seed) = (8, 20, 3);
        let (mut data, mut labels, mut truth) = blobs(classes, 400, seed, |_, _| None);
        let sources = plant_world(&mut data, &mut labels, &mut truth, classes, seed);
        let x = MatrixRef::new(&data, labels.len(), d).unwrap();
        let out = KnnLabelDisagreement::DEFAULT
            .scan(&ScanInput::new(x, &labels, classes))
            .unwrap();
        let class0 = &out.classes[0];
        assert!(class0.log_p.unwrap() < (1e-6f64).ln(), "{class0:?}");
        assert!(class0.value("foreign_group_log_p").unwrap() < (1e-6f64).ln());
        for c in &out.classes[1..] {
            assert!(c.log_p.unwrap() > -4.0, "{c:?}");
        }
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        let raw: Vec<f64> = rows.iter().map(|&i| out.raw[i]).collect();
        let planted: Vec<bool> = rows.iter().map(|&i| truth[i]).collect();
        let auc = crate::testutil::auroc(&raw, &planted);
        assert!(auc > 0.95, "AUROC {auc}");
        let suspected = out.suspected.unwrap();
        let planted_rows = labels.len() - 500..labels.len();
        let right = planted_rows
            .zip(&sources)
            .filter(|(i, &s)| suspected[*i] == s)
            .count();
        assert!(right >= 450, "{right} of 500 sources named");
    }

    #[test]
    fn the_estimate_covers_a_foreign_group_beside_relabelled_rows() {
        // Class 0 gets 70 plain relabelled rows of the other classes, which
        // the isolation tests see (each alone among its source), and 500
        // more that share a shift, a world of their own that only the
        // foreign group sees: the estimate covers the larger.
        let (classes, d, seed) = (8, 20, 3);
        let (mut data, mut labels, mut truth) = blobs(classes, 400, seed, |i, c| {
            (c != 0 && i < 720 && i % 9 == 0).then_some(0)
        });
        let plain = truth.iter().filter(|&&t| t).count();
        plant_world(&mut data, &mut labels, &mut truth, classes, seed);
        let x = MatrixRef::new(&data, labels.len(), d).unwrap();
        let out = KnnLabelDisagreement::DEFAULT
            .scan(&ScanInput::new(x, &labels, classes))
            .unwrap();
        let class0 = &out.classes[0];
        let alone = class_gate_level(classes) - (CLASS_TESTS as f64).ln();
        let isolated = ["unanimity_log_p", "isolation_log_p", "pooled_log_p"]
            .iter()
            .map(|t| class0.value(t).unwrap())
            .fold(0.0, f64::min);
        let foreign = class0.value("foreign_group_log_p").unwrap();
        // both kinds are significant on their own, the plain rows more
        assert!(isolated < foreign && foreign < alone, "{class0:?}");
        assert!(plain >= 60, "{plain}");
        let excess = class0.value("excess_rows").unwrap();
        assert!((450.0..=650.0).contains(&excess), "{excess}: {class0:?}");
    }

    #[test]
    fn exact_neighbours_match_brute_force() {
        // Clustered integer coordinates: distances are exact in both ways of
        // computing them, ties are common and must go to the lower index,
        // and the block pruning has far-apart blocks to skip.
        let mut rng = SplitMix64::new(2);
        let (n, d, k) = (3000, 5, 4);
        let centres: Vec<f64> = (0..6 * d).map(|_| 40.0 * rng.normal()).collect();
        let p: Vec<f32> = (0..n * d)
            .map(|t| (centres[(t / d % 6) * d + t % d] + 4.0 * rng.normal()).round() as f32)
            .collect();
        let nb = nearest_neighbours(&p, n, d, k, Reach::Exact);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(|| nearest_neighbours(&p, n, d, k, Reach::Exact)),
            nb
        );
        for i in (0..n).step_by(7) {
            let mut all: Vec<(f32, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        (0..d)
                            .map(|t| (p[i * d + t] - p[j * d + t]).powi(2))
                            .sum::<f32>(),
                        j as u32,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let want: Vec<u32> = all[..k].iter().map(|x| x.1).collect();
            assert_eq!(&nb[i * k..(i + 1) * k], &want[..], "row {i}");
        }
    }

    #[test]
    fn nearby_search_finds_most_exact_neighbours_the_same_way_on_any_thread_count() {
        // 40 clusters in 16 dimensions, 20,000 rows: 128 blocks, each
        // compared with the blocks of about 2,048 rows nearest it.
        let mut rng = SplitMix64::new(5);
        let (n, d, k) = (20_000, 16, 10);
        let centres: Vec<f64> = (0..40 * d).map(|_| 6.0 * rng.normal()).collect();
        let p: Vec<f32> = (0..n * d)
            .map(|t| (centres[(t / d % 40) * d + t % d] + rng.normal()) as f32)
            .collect();
        let exact = nearest_neighbours(&p, n, d, k, Reach::Exact);
        let near = nearest_neighbours(
            &p,
            n,
            d,
            k,
            Reach::Nearby {
                rows: 2048,
                trees: 2,
            },
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(|| nearest_neighbours(
                &p,
                n,
                d,
                k,
                Reach::Nearby {
                    rows: 2048,
                    trees: 2
                }
            )),
            near
        );
        // exact neighbours a search found, over all rows
        let hits = |found: &[u32]| -> usize {
            (0..n)
                .map(|i| {
                    let want = &exact[i * k..(i + 1) * k];
                    found[i * k..(i + 1) * k]
                        .iter()
                        .filter(|j| want.contains(j))
                        .count()
                })
                .sum()
        };
        let found = hits(&near);
        let recall = found as f64 / (n * k) as f64;
        assert!(recall > 0.9, "recall {recall}");
        // The first tree alone is the search of one tree with half the
        // rows; the second, turned, finds neighbours it missed.
        let one = nearest_neighbours(
            &p,
            n,
            d,
            k,
            Reach::Nearby {
                rows: 1024,
                trees: 1,
            },
        );
        let found_one = hits(&one);
        assert!(
            found > found_one + n / 100,
            "two trees {found}, the first alone {found_one}"
        );
        // a reach of every row is the exact search
        assert_eq!(
            nearest_neighbours(&p, n, d, k, Reach::Nearby { rows: n, trees: 1 }),
            exact
        );
        // no row is its own neighbour, and every list is full
        assert!((0..n).all(|i| near[i * k..(i + 1) * k]
            .iter()
            .all(|&j| j as usize != i && (j as usize) < n)));
    }

    #[test]
    fn flipped_labels_rank_on_top_and_fail_their_class() {
        // 6 % of the rows of six classes carry a random other label.
        let (data, labels, truth) = blobs(6, 1000, 3, |i, c| {
            let h = SplitMix64::new(i as u64).next_u64();
            (h % 100 < 6).then(|| ((c as u64 + 1 + (h >> 8) % 5) % 6) as u32)
        });
        let x = MatrixRef::new(&data, labels.len(), 20).unwrap();
        let input = ScanInput::new(x, &labels, 6);
        let out = KnnLabelDisagreement::DEFAULT.scan(&input).unwrap();
        let neg: Vec<f64> = out.log_p.iter().map(|l| -l).collect();
        assert!(auroc(&neg, &truth) > 0.99);
        for c in &out.classes {
            // fails at the fusion's 1 % level over 6 classes × 2 class tests
            assert!(
                c.log_p.unwrap() < (0.01f64 / 12.0).ln(),
                "class {} should fail: {:?}",
                c.class,
                c
            );
        }
        // The suspected label of a flipped row is its true class.
        let suspected = out.suspected.unwrap();
        let flipped = truth.iter().filter(|&&t| t).count();
        let right = (0..labels.len())
            .filter(|&i| truth[i] && suspected[i] as usize == i % 6)
            .count();
        assert!(
            right as f64 >= 0.95 * flipped as f64,
            "{right} of {flipped}"
        );
    }

    #[test]
    fn a_one_way_flow_fails_its_target_only() {
        // 120 rows of class 3 (30 % of it: dense enough to be each other's
        // neighbours) relabelled to class 0, among eight classes.
        let (data, labels, truth) = blobs(8, 400, 5, |i, c| (c == 3 && i / 8 < 120).then_some(0));
        let x = MatrixRef::new(&data, labels.len(), 20).unwrap();
        let input = ScanInput::new(x, &labels, 8);
        let out = KnnLabelDisagreement::DEFAULT.scan(&input).unwrap();
        let level = (0.01f64 / 16.0).ln();
        let lp = |c: usize| out.classes[c].log_p.unwrap();
        assert!(lp(0) < level, "{:?}", out.classes[0]);
        for c in 1..8 {
            assert!(lp(c) > level, "{:?}", out.classes[c]);
        }
        let neg: Vec<f64> = out.log_p.iter().map(|l| -l).collect();
        assert!(auroc(&neg, &truth) > 0.95);
    }

    #[test]
    fn a_class_its_neighbourhoods_never_recognise_is_reported_not_judged() {
        // six separated classes and a seventh made of rows scattered over
        // them (one row in ten of each): no row of it has its own label
        // among its neighbours, so nothing says which of its rows, if any,
        // belong to it — every class test would fail it (ANES 1996's
        // junior-college graduates among the other levels of education);
        // without the recognition rule the direction test failed it (ln p
        // −39: 178 rows out, 5 in)
        let (data, labels, _) = blobs(6, 300, 23, |i, _| (i % 10 == 0).then_some(6));
        let x = MatrixRef::new(&data, labels.len(), 20).unwrap();
        let out = KnnLabelDisagreement::DEFAULT
            .scan(&ScanInput::new(x, &labels, 7))
            .unwrap();
        for c in &out.classes {
            let judged = c.value("judged").unwrap();
            if c.class == 6 {
                assert_eq!(judged, 0.0, "{c:?}");
                assert_eq!(c.value("recognised_rows").unwrap(), 0.0, "{c:?}");
                // the label tests stand aside; the foreign-group test, which
                // looks for a group sharing an offset, is not a label test
                for test in [
                    "unanimity_log_p",
                    "isolation_log_p",
                    "pooled_log_p",
                    "source_log_p",
                    "direction_log_p",
                    "coherence_log_p",
                ] {
                    assert_eq!(c.value(test).unwrap(), 0.0, "{test}: {c:?}");
                }
            } else {
                assert_eq!(judged, 1.0, "{c:?}");
            }
        }
    }

    #[test]
    fn labels_that_carry_no_information_fail_no_class() {
        // ten classes, labels drawn at random, features noise: three rows
        // in four are contradicted, and every test must stay quiet (the
        // source test once stratified only the rows whose majority was
        // another class, dropping the mixed ones, and failed every class)
        let mut rng = SplitMix64::new(17);
        let (n, d, classes) = (6000, 16, 10);
        let data: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
        let labels: Vec<u32> = (0..n).map(|_| rng.below(classes) as u32).collect();
        let x = MatrixRef::new(&data, n, d).unwrap();
        let out = KnnLabelDisagreement::DEFAULT
            .scan(&ScanInput::new(x, &labels, classes))
            .unwrap();
        for c in &out.classes {
            assert!(
                c.value("source_log_p").unwrap() > class_gate_level(classes),
                "{c:?}"
            );
            assert!(c.log_p.unwrap() > class_gate_level(classes), "{c:?}");
        }
    }

    #[test]
    fn winsorizing_removes_a_rare_trigger_from_the_view() {
        // Eight blobs in 20 dimensions plus 4 columns that every row leaves
        // at 0; 20 rows of each of classes 2–7 (3.75 % of the data) carry
        // the trigger (those 4 columns at 6) and label 1: the 20 of a source
        // are each other's nearest neighbours.
        let (mut data, labels, truth) =
            blobs(8, 400, 7, |i, c| (c >= 2 && (i / 8) % 20 == 0).then_some(1));
        let d = 24;
        let mut wide = Vec::with_capacity(labels.len() * d);
        for (i, row) in data.chunks(20).enumerate() {
            wide.extend_from_slice(row);
            let v = if truth[i] { 6.0 } else { 0.0 };
            wide.extend_from_slice(&[v; 4]);
        }
        data = wide;
        let x = MatrixRef::new(&data, labels.len(), d).unwrap();
        let input = ScanInput::new(x, &labels, 8);
        let level = (0.01f64 / 16.0).ln();
        let plain = KnnLabelDisagreement::new(
            KnnLabelDisagreement::params()
                .winsorize(0.0)
                .check()
                .unwrap(),
        )
        .scan(&input)
        .unwrap();
        let clipped = KnnLabelDisagreement::DEFAULT.scan(&input).unwrap();
        let lp = |o: &ScanOutput| o.classes[1].log_p.unwrap();
        assert!(lp(&clipped) < level, "{:?}", clipped.classes[1]);
        assert!(
            lp(&clipped) < lp(&plain) - 5.0,
            "{} vs {}",
            lp(&clipped),
            lp(&plain)
        );
        for c in [0, 2, 3] {
            assert!(
                clipped.classes[c].log_p.unwrap() > level,
                "{:?}",
                clipped.classes[c]
            );
        }
    }

    #[test]
    fn clean_classes_pass_the_class_test() {
        for (classes, seed) in [(3, 4), (8, 6)] {
            let (data, labels, _) = blobs(classes, 400, seed, |_, _| None);
            let x = MatrixRef::new(&data, labels.len(), 20).unwrap();
            let input = ScanInput::new(x, &labels, classes);
            let out = KnnLabelDisagreement::DEFAULT.scan(&input).unwrap();
            for c in &out.classes {
                assert!(c.log_p.unwrap() > -2.0, "{c:?}");
            }
        }
    }

    #[test]
    fn every_listed_option_is_accepted() {
        let e = KnnLabelDisagreement::DEFAULT
            .configure(&[("nope".into(), "1".into())])
            .err()
            .unwrap()
            .to_string();
        let known = e.split("known: ").nth(1).unwrap();
        for option in known.split(", ") {
            let key = option.trim_start_matches("knn-label-disagreement.");
            let value = if key == "winsorize" { "0.1" } else { "5" };
            let value = if key == "min-agreement" { "0.2" } else { value };
            let value = if key == "search-rows" { "2048" } else { value };
            assert!(
                KnnLabelDisagreement::DEFAULT
                    .configure(&[(key.into(), value.into())])
                    .is_ok(),
                "{key}"
            );
        }
    }

    #[test]
    fn constant_features_carry_no_evidence() {
        // Found by the fuzzer: no feature varies, so the view has no
        // dimension at all.
        let (n, d) = (40, 3);
        let x = vec![1.5f32; n * d];
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let input = ScanInput::new(MatrixRef::new(&x, n, d).unwrap(), &labels, 2);
        let out = KnnLabelDisagreement::new(KnnLabelDisagreement::params().check().unwrap())
            .scan(&input)
            .unwrap();
        assert!(out.log_p.iter().all(|&p| p == 0.0));
        assert!(out.classes.iter().all(|c| c.log_p == Some(0.0)));
    }

    #[test]
    fn an_approximate_search_is_noted() {
        let n = 2000;
        let x: Vec<f32> = (0..3 * n).map(|i| i as f32).collect();
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
        let input = ScanInput::new(MatrixRef::new(&x, n, 3).unwrap(), &labels, 2);
        assert_eq!(KnnLabelDisagreement::DEFAULT.note(&input), None);
        let small = KnnLabelDisagreement::DEFAULT
            .configure(&[
                ("exact-rows".into(), "100".into()),
                ("search-rows".into(), "1024".into()),
            ])
            .unwrap();
        let note = small.note(&input).expect("1,024 of 2,000 rows");
        assert!(
            note.contains("2000 rows are more than exact-rows (100)"),
            "{note}"
        );
        // a search that reaches every row is exact, and nothing is noted
        let all = small
            .configure(&[("search-rows".into(), "4096".into())])
            .unwrap();
        assert_eq!(all.note(&input), None);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(KnnLabelDisagreement::params().k(0).check().is_err());
        assert!(KnnLabelDisagreement::params().dims(1000).check().is_err());
        let e = KnnLabelDisagreement::params()
            .unanimity_ratio(0.0)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("unanimity-ratio"), "{e}");
        assert_eq!(
            KnnLabelDisagreement::params().check().unwrap(),
            KnnLabelDisagreement::DEFAULT.params
        );
    }
}
