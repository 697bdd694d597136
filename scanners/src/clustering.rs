//! `PS003 activation-clustering`: a small, well-separated cluster inside a
//! class (Chen et al., 2018), scored per sample.

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use linfa_ica::fast_ica::FastIca;
use ndarray::Array2;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use crate::error::{ensure, parse_value, ParamError, ScanError};
use crate::perclass::{canonical_order, class_projection, scan_with_excess_test, ClassResult};
use crate::rng::SplitMix64;
use crate::stats::{ln_upper_normal_p, robust_location_scale};
use crate::{ClassDiagnostics, ScanInput, ScanOutput, Scanner};

const DOC: &str = r#"# PS003 activation-clustering

## What it detects
A class whose samples fall into two groups, one of them small and set apart:
the poisoned samples of a backdoor attack, which a model represents by their
trigger rather than by their content, next to the class's genuine samples.

## Why it matters
A model trained on poisoned data learns the trigger as a feature of the
target class. In its penultimate-layer activations the poisoned samples then
form their own cluster, although their labels, and often their pixels, look
like the rest of the class. Clustering each class separately exposes that
group without knowing the trigger.

## Method
For every class separately (classes in parallel, each with its own seeded
random stream):
1. Reduce the class's rows to `dims` dimensions: principal components
   (centred; standardised unless the features share one scale), or with
   `reduce = ica` independent components by FastICA on those principal
   components.
2. k-means (linfa-clustering, k-means++ starts, seeded) with `k = 2`; with
   `max-k` above 2, every `k` from 2 to `max-k` is tried and the one with the
   best mean silhouette kept (simplified silhouette: distances to centroids).
3. The largest cluster is taken as the class's genuine samples. For every
   other cluster, the direction from the largest cluster's centroid to its
   centroid; every row is projected on the direction to its own cluster (rows
   of the largest cluster: the nearest other cluster), and the raw score is
   that projection's robust z-score against the largest cluster's rows
   (median, 1.4826 × MAD): how many spreads of the genuine samples a row lies
   toward the other group. Its one-sided normal tail is the row's p-value; a
   row is *extreme* when that is at most 10⁻³.
4. Class test — cluster size and separation together: the extreme rows of
   clusters whose relative size is at most `max-size` (the small-cluster rule
   of the original method, stricter by default) and whose *separation* — the distance between the
   two clusters' medians along the direction, in units of their pooled robust
   spread — is at least `min-separation` are counted. A large second
   cluster, or a small one that merely shades into the rest, is a natural
   mode of the class, not evidence. The count is tested against
   Binomial(rows, r), `r = max(clean-rate, peer-ratio × m)` with `m` the
   median share of such rows in the other classes whose split has a small
   cluster (a class split into two large parts cannot show one, and its
   count of none says nothing of how often a clean class of this data set
   has them: on Fair's survey with the MLP, four of six occupations split in
   large parts and made the median 0, while two split off 10 % and 13 % —
   women whose schooling is unusual for their occupation — and the larger
   failed against the 5 % floor): a poisoned class stands
   out from its peers (one-sided binomial test, its variance widened by the
   spread of the other classes' shares, 1.4826 × their median absolute
   deviation, since clean classes differ among themselves by more than
   sampling explains; with one other class, at least a quarter of the
   null rate, widened by `√(1 + π/2)` for a median of one; and as with
   one where every other class is censored — the bare binomial
   against the 5 % floor failed RAND HIE's deductible plans, a clean
   table of two classes, with the MLP: 398 extreme rows of 5,249 in a
   natural small cluster, the other class split in two large parts, ln p
   −34.9; now −2.3, and the three seeds pass).
5. In a class whose test is not significant at 1 % after a Bonferroni
   correction over the classes, a row's reported p-value is raised to its
   class's: such rows carry no more evidence than their class does. Unlike
   `robust-spectral` and `confident-learning`, whose row scores mean
   something on their own, no other scanner's class test opens this gate:
   a row's distance along a split that is not a small separated cluster
   is no evidence.
The summary reports per class the chosen `k`, the smallest cluster's relative
size, the largest separation, the mean silhouette and the number of extreme
rows.

## Options
- `dims` — dimensions after reduction (default 10, from 2 to 64).
- `reduce` — `pca` (default) or `ica`.
- `max-k` — largest number of clusters tried (default 2, from 2 to 8).
- `max-size` — relative size up to which a cluster counts as suspicious
  (default 0.15, from 0.05 to 0.5). The original method's 0.35 flagged the
  natural second writing style of the scikit-learn digits "9" (17–19 % of
  the class, separation 4–5.5) in a trained MLP's activations; a 1 % BadNets
  poison of MNIST is 9 % of its target class (separation 5.2).
- `min-separation` — separation from which a small cluster counts (default
  4, from 0 to 100).
- `clean-rate` — share of extreme rows in small clusters a clean class may
  have (default 0.05, above 0 and below 0.5).
- `peer-ratio` — how many times the median share of the other classes a
  clean class may have (default 3, from 1 to 100).

## Known false positives
Measured on raw pixels (MNIST, scikit-learn digits), clean classes have
natural modes and heavy tails that this scanner reports as sub-populations;
it is therefore run by default only on learned representations (embedding
columns, model activations) and on raw inputs only when named.
- Classes with a small natural mode (an unusual writing style, a sub-species)
  in the scanned features; learned representations of a trained model
  collapse such modes far more than raw inputs do.
- On raw pixels a small trigger does not form its own cluster; this scanner
  is meant for learned activations (`--model`), `knn-label-disagreement`
  covers raw inputs.

## References
- B. Chen, W. Carvalho, N. Baracaldo, H. Ludwig, B. Edwards, T. Lee,
  I. Molloy, B. Srivastava. Detecting Backdoor Attacks on Deep Neural
  Networks by Activation Clustering. AAAI SafeAI Workshop, 2019
  (arXiv:1811.03728, 2018).
- Adversarial Robustness Toolbox, `ActivationDefence`: the relative-size,
  silhouette and distance analyses.
- A. Hyvärinen, E. Oja. Independent Component Analysis: Algorithms and
  Applications. Neural Networks, 2000 (FastICA).
"#;

/// p-value at or below which a row is extreme.
const EXTREME_P: f64 = 1e-3;

/// How the class's rows are reduced before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Principal components.
    Pca,
    /// Independent components (FastICA) of the principal components.
    Ica,
}

/// Validated parameters of [`ActivationClustering`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteringValidParams {
    dims: usize,
    reduce: Reduce,
    max_k: usize,
    max_size: f64,
    min_separation: f64,
    clean_rate: f64,
    peer_ratio: f64,
}

impl ClusteringValidParams {
    /// Dimensions after reduction.
    pub fn dims(&self) -> usize {
        self.dims
    }
    /// The reduction.
    pub fn reduce(&self) -> Reduce {
        self.reduce
    }
    /// Largest number of clusters tried.
    pub fn max_k(&self) -> usize {
        self.max_k
    }
    /// Relative size up to which a cluster is suspicious.
    pub fn max_size(&self) -> f64 {
        self.max_size
    }
    /// Separation from which a small cluster counts.
    pub fn min_separation(&self) -> f64 {
        self.min_separation
    }
    /// Share of extreme rows a clean class may have.
    pub fn clean_rate(&self) -> f64 {
        self.clean_rate
    }
    /// How many times its peers' extreme share a class may have.
    pub fn peer_ratio(&self) -> f64 {
        self.peer_ratio
    }
}

/// Unchecked parameters of [`ActivationClustering`]; call
/// [`ClusteringParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteringParams(ClusteringValidParams);

impl Default for ClusteringParams {
    fn default() -> Self {
        Self(ActivationClustering::DEFAULT.params.clone())
    }
}

impl ClusteringParams {
    /// Dimensions after reduction (2..=64).
    pub fn dims(mut self, dims: usize) -> Self {
        self.0.dims = dims;
        self
    }
    /// The reduction.
    pub fn reduce(mut self, reduce: Reduce) -> Self {
        self.0.reduce = reduce;
        self
    }
    /// Largest number of clusters tried (2..=8).
    pub fn max_k(mut self, k: usize) -> Self {
        self.0.max_k = k;
        self
    }
    /// Relative size up to which a cluster is suspicious (0.05..=0.5).
    pub fn max_size(mut self, v: f64) -> Self {
        self.0.max_size = v;
        self
    }
    /// Separation from which a small cluster counts (0..=100).
    pub fn min_separation(mut self, v: f64) -> Self {
        self.0.min_separation = v;
        self
    }
    /// Share of extreme rows a clean class may have (0 < v < 0.5).
    pub fn clean_rate(mut self, v: f64) -> Self {
        self.0.clean_rate = v;
        self
    }
    /// How many times its peers' extreme share a class may have (1..=100).
    pub fn peer_ratio(mut self, v: f64) -> Self {
        self.0.peer_ratio = v;
        self
    }
    /// Validates every parameter.
    pub fn check(self) -> Result<ClusteringValidParams, ParamError> {
        let p = self.0;
        ensure(
            (2..=64).contains(&p.dims),
            "activation-clustering.dims",
            p.dims,
            "an integer from 2 to 64",
        )?;
        ensure(
            (2..=8).contains(&p.max_k),
            "activation-clustering.max-k",
            p.max_k,
            "an integer from 2 to 8",
        )?;
        ensure(
            (0.05..=0.5).contains(&p.max_size),
            "activation-clustering.max-size",
            p.max_size,
            "a number from 0.05 to 0.5",
        )?;
        ensure(
            (0.0..=100.0).contains(&p.min_separation),
            "activation-clustering.min-separation",
            p.min_separation,
            "a number from 0 to 100",
        )?;
        ensure(
            p.clean_rate > 0.0 && p.clean_rate < 0.5,
            "activation-clustering.clean-rate",
            p.clean_rate,
            "a number above 0 and below 0.5",
        )?;
        ensure(
            (1.0..=100.0).contains(&p.peer_ratio),
            "activation-clustering.peer-ratio",
            p.peer_ratio,
            "a number from 1 to 100",
        )?;
        Ok(p)
    }
}

/// Activation-clustering scanner (`PS003`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationClustering {
    params: ClusteringValidParams,
}

/// One clustering of a class.
struct Clustering {
    k: usize,
    labels: Vec<usize>,
    centroids: Array2<f64>,
    silhouette: f64,
}

/// Euclidean distance of row `a` to centroid `c`.
fn dist(a: &[f64], c: ndarray::ArrayView1<'_, f64>) -> f64 {
    a.iter()
        .zip(c.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

impl ActivationClustering {
    /// The scanner with default settings.
    pub const DEFAULT: ActivationClustering = ActivationClustering {
        params: ClusteringValidParams {
            dims: 10,
            reduce: Reduce::Pca,
            max_k: 2,
            max_size: 0.15,
            min_separation: 4.0,
            clean_rate: 0.05,
            peer_ratio: 3.0,
        },
    };

    /// Parameters to adjust and check.
    pub fn params() -> ClusteringParams {
        ClusteringParams::default()
    }

    /// A scanner with checked parameters.
    pub fn new(params: ClusteringValidParams) -> Self {
        Self { params }
    }

    /// k-means with `k` clusters, seeded; `None` when it does not converge.
    fn cluster(y: &Array2<f64>, k: usize, seed: u64) -> Option<Clustering> {
        let data = DatasetBase::from(y.clone());
        let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
            .n_runs(2)
            .max_n_iterations(100)
            .tolerance(1e-3)
            .fit(&data)
            .ok()?;
        let labels: Vec<usize> = model.predict(y).to_vec();
        let centroids = model.centroids().clone();
        let silhouette = y
            .rows()
            .into_iter()
            .zip(&labels)
            .map(|(row, &c)| {
                let row = row.as_slice().expect("standard layout");
                let a = dist(row, centroids.row(c));
                let b = (0..k)
                    .filter(|&o| o != c)
                    .map(|o| dist(row, centroids.row(o)))
                    .fold(f64::INFINITY, f64::min);
                let m = a.max(b);
                if m > 0.0 {
                    (b - a) / m
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / labels.len().max(1) as f64;
        Some(Clustering {
            k,
            labels,
            centroids,
            silhouette,
        })
    }

    fn scan_class(&self, input: &ScanInput<'_>, class: u32, rows: Vec<usize>) -> ClassResult {
        let n = rows.len();
        let p = &self.params;
        if n < (4 * p.dims).max(20) {
            return ClassResult::unscored(class, rows);
        }
        let mut rng = SplitMix64::derive(input.seed, 0xAC00_0000 + class as u64);
        let rows = canonical_order(input.features, rows, rng.next_u64());
        let (proj, k) = class_projection(
            input.features,
            &rows,
            p.dims,
            rng.next_u64(),
            input.same_scale,
        );
        let mut y = Array2::from_shape_vec((n, k), proj.iter().map(|&v| v as f64).collect())
            .expect("projection shape");
        let mut ica_failed = false;
        if p.reduce == Reduce::Ica {
            let fitted = FastIca::params()
                .ncomponents(k)
                .random_state((rng.next_u64() >> 1) as usize)
                .fit(&DatasetBase::from(y.clone()));
            match fitted {
                Ok(ica) => y = ica.predict(&y),
                Err(_) => ica_failed = true,
            }
        }
        let seed = rng.next_u64();
        let best = (2..=p.max_k.min(n - 1))
            .filter_map(|kk| Self::cluster(&y, kk, seed.wrapping_add(kk as u64)))
            .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette).then(b.k.cmp(&a.k)));
        let Some(c) = best else {
            return ClassResult::unscored(class, rows);
        };
        let mut sizes = vec![0usize; c.k];
        c.labels.iter().for_each(|&l| sizes[l] += 1);
        let big = (0..c.k)
            .max_by_key(|&i| (sizes[i], std::cmp::Reverse(i)))
            .unwrap();
        let data = y.as_slice().expect("standard layout");
        let row = |i: usize| &data[i * k..(i + 1) * k];
        // Unit direction from the big cluster to each other cluster, and the
        // robust location and spread of the big cluster's rows along it.
        let mu_b = c.centroids.row(big);
        // (direction, big cluster's location and spread along it, separation)
        #[allow(clippy::type_complexity)]
        let axes: Vec<Option<(Vec<f64>, f64, f64, f64)>> = (0..c.k)
            .map(|o| {
                if o == big {
                    return None;
                }
                let mut u: Vec<f64> = c
                    .centroids
                    .row(o)
                    .iter()
                    .zip(mu_b.iter())
                    .map(|(a, b)| a - b)
                    .collect();
                let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm <= 0.0 {
                    return None;
                }
                u.iter_mut().for_each(|v| *v /= norm);
                let along = |cluster: usize| -> Vec<f64> {
                    (0..n)
                        .filter(|&i| c.labels[i] == cluster)
                        .map(|i| row(i).iter().zip(&u).map(|(a, b)| a * b).sum())
                        .collect()
                };
                let (loc, scale) = robust_location_scale(&along(big));
                let (loc_o, scale_o) = robust_location_scale(&along(o));
                let pooled = (0.5 * (scale * scale + scale_o * scale_o)).sqrt();
                let separation = if pooled > 0.0 {
                    (loc_o - loc) / pooled
                } else {
                    f64::INFINITY
                };
                Some((u, loc, scale, separation))
            })
            .collect();
        let mut raw = vec![0.0; n];
        let mut own = vec![0.0; n];
        let mut extreme = 0usize;
        let cut = EXTREME_P.ln();
        for i in 0..n {
            let target = if c.labels[i] != big {
                c.labels[i]
            } else {
                match (0..c.k)
                    .filter(|&o| o != big && axes[o].is_some())
                    .min_by(|&a, &b| {
                        dist(row(i), c.centroids.row(a))
                            .total_cmp(&dist(row(i), c.centroids.row(b)))
                    }) {
                    Some(o) => o,
                    None => continue,
                }
            };
            let Some((u, loc, scale, separation)) = &axes[target] else {
                continue;
            };
            let t: f64 = row(i).iter().zip(u).map(|(a, b)| a * b).sum();
            let z = if *scale > 0.0 { (t - loc) / scale } else { 0.0 };
            raw[i] = z;
            own[i] = ln_upper_normal_p(z);
            let small = c.labels[i] != big && sizes[c.labels[i]] as f64 <= p.max_size * n as f64;
            if small && *separation >= p.min_separation && own[i] <= cut {
                extreme += 1;
            }
        }
        let smallest = sizes.iter().copied().min().unwrap_or(0) as f64 / n as f64;
        let separation = axes
            .iter()
            .flatten()
            .map(|a| a.3)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut values = vec![
            ("k", c.k as f64),
            ("relative_size", smallest),
            ("separation", separation),
            ("silhouette", c.silhouette),
            ("extreme_rows", extreme as f64),
        ];
        // a split with no small cluster cannot show one: its count of
        // extreme rows is no measure of its peers' small clusters
        if smallest > p.max_size {
            values.push(("censored", 1.0));
        }
        if ica_failed {
            values.push(("ica_failed", 1.0));
        }
        ClassResult {
            rows,
            raw,
            log_p: own,
            diagnostics: ClassDiagnostics {
                class,
                values,
                log_p: None,
            },
        }
    }
}

impl Scanner for ActivationClustering {
    fn code(&self) -> &'static str {
        "PS003"
    }
    fn name(&self) -> &'static str {
        "activation-clustering"
    }
    fn summary(&self) -> &'static str {
        "A small, well-separated cluster inside a class (Chen et al. 2018), scored per sample"
    }
    fn doc(&self) -> &'static str {
        DOC
    }
    fn learned_features_only(&self) -> bool {
        true
    }

    fn configure(&self, options: &[(String, String)]) -> Result<Box<dyn Scanner>, ParamError> {
        let mut p = ClusteringParams(self.params.clone());
        let name = self.name();
        for (key, value) in options {
            p = match key.as_str() {
                "dims" => p.dims(parse_value(name, key, value, "a whole number")?),
                "reduce" => match value.trim() {
                    "pca" => p.reduce(Reduce::Pca),
                    "ica" => p.reduce(Reduce::Ica),
                    _ => {
                        return Err(ParamError::BadValue {
                            option: format!("{name}.{key}"),
                            value: value.clone(),
                            expected: "`pca` or `ica`",
                        })
                    }
                },
                "max-k" => p.max_k(parse_value(name, key, value, "a whole number")?),
                "max-size" => p.max_size(parse_value(name, key, value, "a number")?),
                "min-separation" => p.min_separation(parse_value(name, key, value, "a number")?),
                "clean-rate" => p.clean_rate(parse_value(name, key, value, "a number")?),
                "peer-ratio" => p.peer_ratio(parse_value(name, key, value, "a number")?),
                _ => {
                    return Err(ParamError::unknown(
                        name,
                        key,
                        &[
                            "dims",
                            "reduce",
                            "max-k",
                            "max-size",
                            "min-separation",
                            "clean-rate",
                            "peer-ratio",
                        ],
                    ))
                }
            };
        }
        Ok(Box::new(ActivationClustering::new(p.check()?)))
    }

    fn scan(&self, input: &ScanInput<'_>) -> Result<ScanOutput, ScanError> {
        input.validate()?;
        let mut out = scan_with_excess_test(
            input,
            self.params.clean_rate,
            self.params.peer_ratio,
            |c, rows| self.scan_class(input, c, rows),
        );
        // A row's distance along the split means something only when the
        // split is a small, separated cluster — this scanner's own class
        // test — so no other scanner's class test opens its gate. Measured
        // (MNIST, CNN, 1 % BadNets): opened by the label test, its rows made
        // 70 of the 98 false flags in the target class.
        out.ungated_log_p = None;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{auroc, blobs_with_shifted_group};
    use crate::MatrixRef;

    fn run(scanner: &ActivationClustering, poison: usize, seed: u64) -> (ScanOutput, Vec<bool>) {
        let (data, labels, truth) = blobs_with_shifted_group(600, 20, poison, 8.0, seed);
        let x = MatrixRef::new(&data, labels.len(), 20).unwrap();
        let input = ScanInput {
            seed: 5,
            ..ScanInput::new(x, &labels, 3)
        };
        (scanner.scan(&input).unwrap(), truth)
    }

    #[test]
    fn small_separated_cluster_is_found_and_its_class_fails() {
        for scanner in [
            ActivationClustering::DEFAULT,
            ActivationClustering::new(
                ActivationClustering::params()
                    .reduce(Reduce::Ica)
                    .max_k(3)
                    .check()
                    .unwrap(),
            ),
        ] {
            // 84 of 600 rows (14 %): the other classes split in two large
            // parts (censored), so the class has no peer and is held as with
            // one, where 10 % is not decisive (RAND HIE's natural 7.6 %
            // failed against the bare binomial)
            let (out, truth) = run(&scanner, 84, 31);
            let a = auroc(&out.raw, &truth);
            assert!(a > 0.95, "AUROC {a}");
            let class_p: Vec<f64> = out.classes.iter().map(|d| d.log_p.unwrap()).collect();
            assert!(class_p[0] < -10.0, "{:?}", out.classes);
            assert!(class_p[1] > -3.0 && class_p[2] > -3.0, "{:?}", out.classes);
        }
    }

    #[test]
    fn clean_classes_pass_and_output_is_reproducible() {
        let (a, _) = run(&ActivationClustering::DEFAULT, 0, 8);
        for d in &a.classes {
            assert!(d.log_p.unwrap() > -3.0, "{d:?}");
        }
        let (b, _) = run(&ActivationClustering::DEFAULT, 0, 8);
        assert_eq!(a, b);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(ActivationClustering::params().dims(1).check().is_err());
        assert!(ActivationClustering::params().max_k(9).check().is_err());
        let e = ActivationClustering::DEFAULT
            .configure(&[("reduce".into(), "tsne".into())])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "option `activation-clustering.reduce` is `tsne`, but it must be `pca` or `ica`"
        );
        // Every option the scanner takes is named when a key is unknown.
        let e = ActivationClustering::DEFAULT
            .configure(&[("bogus".into(), "1".into())])
            .err()
            .unwrap()
            .to_string();
        for key in [
            "dims",
            "reduce",
            "max-k",
            "max-size",
            "min-separation",
            "clean-rate",
            "peer-ratio",
        ] {
            assert!(e.contains(&format!("activation-clustering.{key}")), "{e}");
            assert!(ActivationClustering::DEFAULT
                .configure(&[(key.into(), "bad".into())])
                .err()
                .is_some_and(|e| !e.to_string().starts_with("unknown option")));
        }
    }
}
