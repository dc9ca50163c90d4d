-- depends: none
-- For every ordered pair of judges: the pairs both labelled, the share of the same
-- choice, and Cohen's kappa (agreement corrected for each judge's own response-1 rate),
-- the position-adjusted kappa (chance agreement 1/2) and 95% intervals of all three.
--
-- Counted on bit words rather than by joining labels with itself (at 100,000 pairs x 50
-- judges that join makes 250 million rows; this makes 4 million): the labelled pairs are
-- numbered 0, 1, ... and cut into blocks of 64; per judge and block one word has a bit
-- for each pair the judge labelled, another for each pair where it chose response 1.
-- For judges a and b, with L = labelled and R = chose response 1 (preferred is 1 or 2):
--   n = |La & Lb|, a1 = |Ra & Lb|, b1 = |La & Rb|, same = n - a1 - b1 + 2 |Ra & Rb|
-- (both chose 1, plus both chose 2 = n - a1 - b1 + |Ra & Rb|).
CREATE OR REPLACE VIEW judge_agreement AS
WITH numbered AS (
    SELECT pair_id, row_number() OVER (ORDER BY pair_id) - 1 AS k
    FROM (SELECT DISTINCT pair_id FROM labels)
),
words AS (
    SELECT l.judge, n.k // 64 AS block,
           bit_or(CAST(1 AS UBIGINT) << CAST(n.k % 64 AS UBIGINT)) AS labelled,
           bit_or(CASE WHEN l.preferred = 1 THEN CAST(1 AS UBIGINT) << CAST(n.k % 64 AS UBIGINT)
                       ELSE CAST(0 AS UBIGINT) END) AS chose_1
    FROM labels l JOIN numbered n USING (pair_id)
    GROUP BY l.judge, block
),
counts AS (
    SELECT a.judge AS judge_a, b.judge AS judge_b,
           CAST(sum(bit_count(a.labelled & b.labelled)) AS BIGINT) AS n,
           CAST(sum(bit_count(a.chose_1 & b.labelled)) AS BIGINT) AS a1,
           CAST(sum(bit_count(a.labelled & b.chose_1)) AS BIGINT) AS b1,
           CAST(sum(bit_count(a.chose_1 & b.chose_1)) AS BIGINT) AS both_1
    FROM words a JOIN words b ON a.block = b.block AND a.judge <> b.judge
    GROUP BY a.judge, b.judge
),
rates AS (  -- as avg() computes them: the integer sum over the count
    SELECT judge_a, judge_b, n, (n - a1 - b1 + 2 * both_1) / n AS agreement, a1 / n AS pa, b1 / n AS pb
    FROM counts
    WHERE n > 0  -- judges whose blocks meet but who share no pair
),
chance AS (  -- z = 1.959964: 95% intervals
    SELECT *, pa * pb + (1 - pa) * (1 - pb) AS p_e, 1.959964 AS z,
           -- Wilson's interval of the agreement share: its middle and half width
           (agreement + 1.959964 * 1.959964 / (2 * n)) / (1 + 1.959964 * 1.959964 / n) AS w_mid,
           1.959964 / (1 + 1.959964 * 1.959964 / n) * sqrt(agreement * (1 - agreement) / n + 1.959964 * 1.959964 / (4 * n * n)) AS w_half
    FROM rates
)
SELECT judge_a, judge_b, n, agreement,
       CASE WHEN 1 - p_e = 0 THEN NULL ELSE (agreement - p_e) / (1 - p_e) END AS kappa,
       w_mid - w_half AS agreement_low,
       w_mid + w_half AS agreement_high,
       -- Cohen's kappa: kappa +- z sqrt(p_o (1 - p_o) / n) / (1 - p_e), within [-1, 1]
       CASE WHEN 1 - p_e = 0 THEN NULL
            ELSE greatest(-1, (agreement - p_e) / (1 - p_e) - z * sqrt(agreement * (1 - agreement) / n) / (1 - p_e))
       END AS kappa_low,
       CASE WHEN 1 - p_e = 0 THEN NULL
            ELSE least(1, (agreement - p_e) / (1 - p_e) + z * sqrt(agreement * (1 - agreement) / n) / (1 - p_e))
       END AS kappa_high,
       -- position-adjusted: chance agreement 1/2, as if each judge chose a position at random
       -- (Feedback Forensics' kappa), so a position both judges favour is not counted as chance
       2 * agreement - 1 AS kappa_position,
       2 * (w_mid - w_half) - 1 AS kappa_position_low,
       2 * (w_mid + w_half) - 1 AS kappa_position_high
FROM chance;
