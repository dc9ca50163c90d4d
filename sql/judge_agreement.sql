-- depends: none
-- For every ordered pair of judges: the pairs both labelled, the share of the same
-- choice, and Cohen's kappa (agreement corrected for each judge's own response-1 rate).
CREATE OR REPLACE VIEW judge_agreement AS
WITH both_labelled AS (
    SELECT a.judge AS judge_a, b.judge AS judge_b,
           (a.preferred = 1)::INTEGER AS a1, (b.preferred = 1)::INTEGER AS b1,
           (a.preferred = b.preferred)::INTEGER AS same
    FROM labels a
    JOIN labels b ON a.pair_id = b.pair_id AND a.judge <> b.judge
),
counts AS (
    SELECT judge_a, judge_b, count(*) AS n, avg(same) AS agreement,
           avg(a1) AS pa, avg(b1) AS pb
    FROM both_labelled
    GROUP BY judge_a, judge_b
)
SELECT judge_a, judge_b, n, agreement,
       CASE WHEN 1 - (pa * pb + (1 - pa) * (1 - pb)) = 0 THEN NULL
            ELSE (agreement - (pa * pb + (1 - pa) * (1 - pb))) / (1 - (pa * pb + (1 - pa) * (1 - pb)))
       END AS kappa
FROM counts;
