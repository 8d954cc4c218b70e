//! Affinity simulation: 100,000 visitors over 10 backends, comparing our keyed weighted
//! rendezvous hashing with modulo hashing and a consistent-hash ring of 150 virtual nodes per
//! backend: balance, the share of visitors moved when one backend of ten is removed and when
//! one is added, and what cookie visitors do in the same events. Writes the load per backend
//! as an SVG chart to `docs/affinity-load.svg`, and the figures as a table into
//! `docs/affinity.md` and `README.md` (between their affinity-sim markers).
//!
//! ```text
//! cargo run --release --example affinity_sim
//! ```
// Measurement code: a failed unwrap, expect or index stops the run, as it should.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::time::Instant;

use edge_session::affinity::{Affinity, AffinityConfig, BackendConfig, Mode, RouteRequest};
use sha2::{Digest, Sha256};

const VISITORS: usize = 100_000;
const BACKENDS: usize = 10;
const VNODES: usize = 150;
const NOW: u64 = 1_800_000_000;
const SECRET: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";

/// A way of mapping visitors to backends `0..n`.
trait Scheme {
    fn name(&self) -> &'static str;
    /// Backend index of every visitor, with the backends `ids`.
    fn assign(&self, ids: &[String], keys: &[String]) -> Vec<usize>;
}

/// Ours: `Affinity` in header mode (the visitor key as the header value), under a secret.
struct Rendezvous(String);

impl Scheme for Rendezvous {
    fn name(&self) -> &'static str {
        "rendezvous (ours)"
    }
    fn assign(&self, ids: &[String], keys: &[String]) -> Vec<usize> {
        let a = router(&self.0, Mode::Header, ids, None);
        keys.iter()
            .map(|k| {
                let r = a.route(
                    &RouteRequest {
                        header: Some(k),
                        ..RouteRequest::default()
                    },
                    NOW,
                );
                let backend = r.expect("healthy backends").backend;
                ids.iter()
                    .position(|id| id == backend)
                    .expect("a configured id")
            })
            .collect()
    }
}

/// `hash(salt, key) mod n`.
struct Modulo(u32);

impl Scheme for Modulo {
    fn name(&self) -> &'static str {
        "modulo"
    }
    fn assign(&self, ids: &[String], keys: &[String]) -> Vec<usize> {
        keys.iter()
            .map(|k| (hash64(self.0, k.as_bytes()) % ids.len() as u64) as usize)
            .collect()
    }
}

/// A consistent-hash ring with 150 virtual nodes per backend, placed by `hash(salt, ...)`.
struct Ring(u32);

impl Scheme for Ring {
    fn name(&self) -> &'static str {
        "ring (150 vnodes)"
    }
    fn assign(&self, ids: &[String], keys: &[String]) -> Vec<usize> {
        let mut ring: Vec<(u64, usize)> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, id)| {
                (0..VNODES).map(move |v| (hash64(self.0, format!("{id}#{v}").as_bytes()), i))
            })
            .collect();
        ring.sort_unstable();
        keys.iter()
            .map(|k| {
                let h = hash64(0, k.as_bytes());
                let at = ring.partition_point(|&(p, _)| p < h);
                ring.get(at).or(ring.first()).map_or(0, |&(_, i)| i)
            })
            .collect()
    }
}

fn hash64(salt: u32, bytes: &[u8]) -> u64 {
    let digest = Sha256::new()
        .chain_update(salt.to_le_bytes())
        .chain_update(bytes)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("b{i}")).collect()
}

fn router(secret: &str, mode: Mode, ids: &[String], weights: Option<&[u32]>) -> Affinity {
    let backends = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            BackendConfig::weighted(
                id.clone(),
                weights.and_then(|w| w.get(i).copied()).unwrap_or(1),
            )
        })
        .collect();
    let mut config = AffinityConfig::new(secret, backends);
    config.mode = mode;
    Affinity::new(config).expect("a valid configuration")
}

fn hashing(ids: &[String]) -> Affinity {
    router(SECRET, Mode::Header, ids, None)
}

/// Max/mean load with ten backends.
fn balance(scheme: &dyn Scheme, keys: &[String]) -> f64 {
    let mut load = [0usize; BACKENDS];
    for b in scheme.assign(&ids(BACKENDS), keys) {
        load[b] += 1;
    }
    *load.iter().max().unwrap_or(&0) as f64 * BACKENDS as f64 / keys.len() as f64
}

/// Median and worst max/mean over `runs` secrets (or salts): is a figure luck?
fn balance_spread(make: &dyn Fn(u32) -> Box<dyn Scheme>, keys: &[String], runs: u32) -> (f64, f64) {
    let mut all: Vec<f64> = (0..runs).map(|i| balance(make(i).as_ref(), keys)).collect();
    all.sort_by(f64::total_cmp);
    (all[all.len() / 2], all[all.len() - 1])
}

/// What one scheme does in the three events.
struct Figures {
    name: &'static str,
    load: Vec<usize>,
    balance: f64,
    removed_moved: f64,
    removed_collateral: usize,
    added_moved: f64,
    added_collateral: usize,
}

fn measure(scheme: &dyn Scheme, keys: &[String]) -> Figures {
    let ten = ids(BACKENDS);
    let before = scheme.assign(&ten, keys);
    let mut load = vec![0usize; BACKENDS];
    for &b in &before {
        load[b] += 1;
    }
    let mean = keys.len() as f64 / BACKENDS as f64;
    let balance = *load.iter().max().unwrap_or(&0) as f64 / mean;

    // Remove b3 (the fourth of ten): compare by id, since indices shift.
    let removed = 3;
    let nine: Vec<String> = ten
        .iter()
        .filter(|id| **id != ten[removed])
        .cloned()
        .collect();
    let after = scheme.assign(&nine, keys);
    let (mut moved, mut collateral) = (0, 0);
    for (&b, &a) in before.iter().zip(&after) {
        if ten[b] != nine[a] {
            moved += 1;
            if b != removed {
                collateral += 1;
            }
        }
    }
    let removed_moved = moved as f64 / keys.len() as f64;
    let removed_collateral = collateral;

    // Add b10.
    let eleven = ids(BACKENDS + 1);
    let after = scheme.assign(&eleven, keys);
    let (mut moved, mut collateral) = (0, 0);
    for (&b, &a) in before.iter().zip(&after) {
        if b != a {
            moved += 1;
            if a != BACKENDS {
                collateral += 1;
            }
        }
    }
    Figures {
        name: scheme.name(),
        load,
        balance,
        removed_moved,
        removed_collateral,
        added_moved: moved as f64 / keys.len() as f64,
        added_collateral: collateral,
    }
}

/// Cookie mode: visitors carry their backend; adding a backend moves none, removing one moves
/// only its visitors. Returns (moved on removal, of which collateral, moved on addition).
fn cookie_visitors() -> (f64, usize, f64) {
    let ten = ids(BACKENDS);
    let a = router(SECRET, Mode::Cookie, &ten, None);
    let pinned: Vec<(String, String)> = (0..VISITORS as u64)
        .map(|e| {
            let r = a
                .route(
                    &RouteRequest {
                        entropy: e,
                        ..RouteRequest::default()
                    },
                    NOW,
                )
                .expect("routed");
            let cookie = r
                .set_cookie
                .as_deref()
                .and_then(|c| c.split(';').next())
                .unwrap_or_default()
                .to_owned();
            (r.backend.to_owned(), cookie)
        })
        .collect();
    let nine: Vec<String> = ten.iter().filter(|id| *id != "b3").cloned().collect();
    let eleven = ids(BACKENDS + 1);
    let (fewer, more) = (
        router(SECRET, Mode::Cookie, &nine, None),
        router(SECRET, Mode::Cookie, &eleven, None),
    );
    let (mut removed, mut collateral, mut added) = (0, 0, 0);
    for (backend, cookie) in &pinned {
        let request = RouteRequest {
            cookie: Some(cookie),
            ..RouteRequest::default()
        };
        let r = fewer.route(&request, NOW + 60).expect("routed");
        if r.backend != backend {
            removed += 1;
            collateral += usize::from(backend != "b3");
        }
        added += usize::from(more.route(&request, NOW + 60).expect("routed").backend != backend);
    }
    (
        removed as f64 / VISITORS as f64,
        collateral,
        added as f64 / VISITORS as f64,
    )
}

fn weighted(keys: &[String]) -> Vec<(u32, f64)> {
    let weights = [1, 2, 3, 4];
    let four = ids(4);
    let a = router(SECRET, Mode::Header, &four, Some(&weights));
    let mut counts = [0usize; 4];
    for k in keys {
        let r = a
            .route(
                &RouteRequest {
                    header: Some(k),
                    ..RouteRequest::default()
                },
                NOW,
            )
            .expect("routed");
        if let Some(i) = four.iter().position(|id| id == r.backend) {
            counts[i] += 1;
        }
    }
    weights
        .iter()
        .zip(counts)
        .map(|(&w, c)| (w, c as f64 / keys.len() as f64))
        .collect()
}

/// Native routes per second in header mode (a keyed hash and n scores per route), and in
/// cookie mode for a returning visitor (one tag check).
fn throughput(n: usize) -> (f64, f64) {
    let list = ids(n);
    let a = hashing(&list);
    let keys: Vec<String> = (0..20_000).map(|i| format!("visitor-{i}")).collect();
    let start = Instant::now();
    let mut sink = 0usize;
    for k in &keys {
        sink += a
            .route(
                &RouteRequest {
                    header: Some(k),
                    ..RouteRequest::default()
                },
                NOW,
            )
            .map_or(0, |r| r.backend.len());
    }
    let hashed = keys.len() as f64 / start.elapsed().as_secs_f64();
    let c = router(SECRET, Mode::Cookie, &list, None);
    let first = c.route(&RouteRequest::default(), NOW).expect("routed");
    let cookie = first
        .set_cookie
        .as_deref()
        .and_then(|s| s.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let request = RouteRequest {
        cookie: Some(&cookie),
        ..RouteRequest::default()
    };
    let start = Instant::now();
    for _ in 0..keys.len() {
        sink += c.route(&request, NOW + 1).map_or(0, |r| r.backend.len());
    }
    let returning = keys.len() as f64 / start.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (hashed, returning)
}

fn main() {
    let keys: Vec<String> = (0..VISITORS).map(|i| format!("visitor-{i}")).collect();
    let schemes: [&dyn Scheme; 3] = [&Rendezvous(SECRET.into()), &Modulo(0), &Ring(0)];
    let figures: Vec<Figures> = schemes.iter().map(|s| measure(*s, &keys)).collect();
    let secret = |i: u32| -> String {
        let bytes: Vec<u8> = (0..32u32).map(|b| (b * 7 + i * 13) as u8).collect();
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    };
    let runs = 20;
    let spreads = [
        balance_spread(&|i| Box::new(Rendezvous(secret(i))), &keys, runs),
        balance_spread(&|i| Box::new(Modulo(i)), &keys, runs),
        balance_spread(&|i| Box::new(Ring(i)), &keys, runs),
    ];

    println!("Affinity simulation: {VISITORS} visitors, {BACKENDS} backends (hashing modes: ip, header)\n");
    print!("{:<44}", "");
    for f in &figures {
        print!("{:>20}", f.name);
    }
    println!();
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        print!("{label:<44}");
        for f in &figures {
            print!("{:>20}", cell(f));
        }
        println!();
    };
    row("balance, max/mean load (target <= 1.05)", &|f| {
        format!("{:.3}", f.balance)
    });
    print!(
        "{:<44}",
        format!("  over {runs} secrets or placements: median, worst")
    );
    for (median, worst) in spreads {
        print!("{:>20}", format!("{median:.3}, {worst:.3}"));
    }
    println!();
    row("remove 1 of 10: visitors moved (ideal 10%)", &|f| {
        format!("{:.2}%", 100.0 * f.removed_moved)
    });
    row("  of them, on a backend that stayed", &|f| {
        f.removed_collateral.to_string()
    });
    row("add 1 to 10: visitors moved (ideal 9.09%)", &|f| {
        format!("{:.2}%", 100.0 * f.added_moved)
    });
    row("  of them, to an old backend", &|f| {
        f.added_collateral.to_string()
    });

    let (removed, collateral, added) = cookie_visitors();
    println!("\nCookie mode, {VISITORS} visitors holding affinity cookies:");
    println!(
        "  remove 1 of 10: {:.2}% moved ({collateral} of them from a backend that stayed)",
        100.0 * removed
    );
    println!(
        "  add 1 to 10:    {:.2}% moved (cookie visitors stay where they are)",
        100.0 * added
    );

    println!("\nWeights 1:2:3:4 (ideal shares 10%, 20%, 30%, 40%):");
    let shares = weighted(&keys);
    for &(w, share) in &shares {
        println!("  weight {w}: {:.2}%", 100.0 * share);
    }

    println!("\nNative route() throughput (release):");
    for n in [10, 100] {
        let (hashed, returning) = throughput(n);
        println!("  {n:>3} backends: header mode {:>10.0} routes/s; cookie mode, returning visitor {:>10.0} routes/s", hashed, returning);
    }

    // The same figures as a Markdown table, between the affinity-sim markers of both documents.
    let names: Vec<&str> = figures.iter().map(|f| f.name).collect();
    let mut md = format!(
        "Written by `cargo run --release --example affinity_sim`: {VISITORS} visitors, {BACKENDS} \
         backends; ours is `Affinity` in header mode; modulo and the ring hash with SHA-256.\n\n\
         | | {} |\n| --- |{}\n",
        names.join(" | "),
        " ---: |".repeat(names.len())
    );
    let mut md_row = |label: &str, cells: Vec<String>| {
        md.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
    };
    let each = |cell: &dyn Fn(&Figures) -> String| figures.iter().map(cell).collect::<Vec<_>>();
    md_row(
        "balance, max/mean load (target ≤ 1.05)",
        each(&|f| format!("{:.3}", f.balance)),
    );
    md_row(
        &format!("same, median and worst of {runs} secrets or placements"),
        spreads
            .iter()
            .map(|(m, w)| format!("{m:.3}, {w:.3}"))
            .collect(),
    );
    md_row(
        "remove 1 of 10: visitors moved (ideal 10%)",
        each(&|f| format!("{:.2}%", 100.0 * f.removed_moved)),
    );
    md_row(
        "… of them from a backend that stayed",
        each(&|f| f.removed_collateral.to_string()),
    );
    md_row(
        "add 1 to 10: visitors moved (ideal 9.09%)",
        each(&|f| format!("{:.2}%", 100.0 * f.added_moved)),
    );
    md_row(
        "… of them to an old backend",
        each(&|f| f.added_collateral.to_string()),
    );
    md.push_str(&format!(
        "\nCookie mode, {VISITORS} visitors holding affinity cookies: removing 1 of 10 backends \
         moves {:.2}% ({collateral} of them from a backend that stayed); adding one moves {:.2}%. \
         Weights 1:2:3:4 give shares of {}.\n",
        100.0 * removed,
        100.0 * added,
        shares
            .iter()
            .map(|(_, share)| format!("{:.2}%", 100.0 * share))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for doc in ["docs/affinity.md", "README.md"] {
        write_section(doc, &md);
    }

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/affinity-load.svg");
    let svg = chart(&figures);
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).expect("create docs/");
    }
    std::fs::write(path, svg).expect("write the chart");
    println!("\nChart of load per backend: docs/affinity-load.svg");
}

/// Replaces the text between the affinity-sim markers of `doc` (a path from the crate's root).
fn write_section(doc: &str, text: &str) {
    let begin =
        "<!-- affinity-sim:begin (written by examples/affinity_sim.rs, do not edit by hand) -->";
    let end = "<!-- affinity-sim:end -->";
    let path = format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"));
    let old = std::fs::read_to_string(&path).expect("read the document");
    let (Some(a), Some(b)) = (old.find(begin), old.find(end)) else {
        panic!("{doc}: no affinity-sim markers");
    };
    let new = format!("{}\n{}{}", &old[..a + begin.len()], text, &old[b..]);
    std::fs::write(&path, new).expect("write the document");
    println!("wrote the figures to {doc}");
}

/// Grouped bars of load per backend, one colour per scheme, with the mean as a dashed line.
fn chart(figures: &[Figures]) -> String {
    let (width, height) = (820.0, 380.0);
    let (left, right, top, bottom) = (64.0, 48.0, 80.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max_load = figures
        .iter()
        .flat_map(|f| f.load.iter())
        .copied()
        .max()
        .unwrap_or(1) as f64;
    let y_max = (max_load / 2000.0).ceil() * 2000.0;
    let y = |v: f64| top + plot_h * (1.0 - v / y_max);
    let colours = ["#2b6cb0", "#a0aec0", "#dd6b20"];
    let group = plot_w / BACKENDS as f64;
    let bar = group * 0.8 / figures.len() as f64;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="15" font-weight="600">Visitors per backend: {VISITORS} visitors, {BACKENDS} backends</text>"#
    );
    let moves: Vec<String> = figures
        .iter()
        .map(|f| {
            format!(
                "{} {:.1}%",
                f.name.split(' ').next().unwrap_or(f.name),
                100.0 * f.removed_moved
            )
        })
        .collect();
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#4a5568">Visitors moved when 1 backend of 10 is removed (ideal 10%): {}</text>"##,
        moves.join(", ")
    );
    for (i, f) in figures.iter().enumerate() {
        let x = left + i as f64 * 250.0;
        let colour = colours[i % colours.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="52" width="12" height="12" fill="{colour}"/><text x="{}" y="62">{}: max/mean {:.3}</text>"#,
            x + 16.0,
            f.name,
            f.balance
        );
    }
    let mut tick = 0.0;
    while tick <= y_max {
        let ty = y(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#e2e8f0"/><text x="{}" y="{:.1}" text-anchor="end">{tick}</text>"##,
            width - right,
            left - 6.0,
            ty + 4.0
        );
        tick += 2000.0;
    }
    for (i, f) in figures.iter().enumerate() {
        let colour = colours[i % colours.len()];
        for (b, &load) in f.load.iter().enumerate() {
            let x = left + b as f64 * group + group * 0.1 + i as f64 * bar;
            let top_y = y(load as f64);
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}: b{b} {load}</title></rect>"#,
                bar - 1.0,
                top + plot_h - top_y,
                f.name
            );
        }
    }
    let mean_y = y(VISITORS as f64 / BACKENDS as f64);
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{mean_y:.1}" y2="{mean_y:.1}" stroke="#1a202c" stroke-dasharray="5 4"/><text x="{}" y="{:.1}">mean</text>"##,
        width - right,
        width - right + 4.0,
        mean_y + 4.0
    );
    for b in 0..BACKENDS {
        let x = left + (b as f64 + 0.5) * group;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">b{b}</text>"#,
            top + plot_h + 16.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{}" stroke="#4a5568"/><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#4a5568"/>"##,
        top + plot_h,
        width - right,
        top + plot_h,
        top + plot_h
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">backend</text>"#,
        left + plot_w / 2.0,
        height - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">visitors</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    s.push_str("</svg>\n");
    s
}
