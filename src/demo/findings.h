/*
 * findings: what the demo's data say about the study's findings, computed from
 * the files the stages wrote (never canned), with the test behind each and a
 * verdict by the rule of docs/analysis.md ("Verdicts of the findings"):
 *
 *   K   the model knows the facts behind each probe set (behavioural test)
 *   F1  probes decode the trust dimensions during pre-training
 *   F2  I(X;T) rises then falls (fitting, then compression)
 *   F3  steering vectors move the chat model towards trustworthiness
 *   R   BICO and ABI answer the reversed questions NTP cannot
 *   RC  RE-Control reaches a higher reward than the decoding baselines
 *   SA  SELF-ALIGN's engraved model follows the principles without them in the prompt
 *
 * Each finding is a set of units (dimensions or steering tasks). A unit is
 * eligible when the experiment can detect the effect there (the model knows the
 * facts; the unsteered score lies in 0.15-0.85; the stage wrote its test), it
 * passes when its test rejects at alpha after Holm in the claimed direction (and
 * beside the baselines), it goes against when it rejects in the other direction.
 * The verdict (tl_demo_verdict): "cannot tell" with no eligible unit,
 * "supported" when most eligible units pass and none goes against, "null" when
 * none passes and none goes against, "not supported" otherwise.
 *
 * The demo writes DIR/findings.json and DIR/findings.md, puts the table above
 * the report's contents and opens each section with its finding's sentence.
 * Files are read by column name, so stages may add columns.
 */
#ifndef TL_DEMO_FINDINGS_H
#define TL_DEMO_FINDINGS_H

#include "demo.h"

typedef struct tl_demo_findings tl_demo_findings;

/* The verdict rule: m eligible units, k pass, a go against. */
const char *tl_demo_verdict(int m, int k, int a);

/* Read the stages' files under out_dir (missing files make a finding "cannot tell";
 * a malformed file is an error naming it). */
tl_status tl_demo_findings_compute(const char *out_dir, double alpha, tl_demo_findings **out);
void tl_demo_findings_free(tl_demo_findings *f);
/* The summary table (before the report's first section). */
void tl_demo_findings_intro(const tl_demo_findings *f, tl_html *h);
/* The opening sentence of a stage's section, when a finding belongs to it. */
void tl_demo_findings_lead(const tl_demo_findings *f, const char *stage, tl_html *h);
/* out_dir/findings.json and out_dir/findings.md, each written atomically. */
tl_status tl_demo_findings_write(const tl_demo_findings *f, const char *out_dir);

#endif /* TL_DEMO_FINDINGS_H */
