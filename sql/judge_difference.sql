-- depends: none
-- How two judges differ: for every ordered pair of judges with fits in the same group and
-- property set, per property, difference = weight(judge_a) - weight(judge_b) (log-odds).
-- The two fits are independent posteriors, so the difference's sd is sqrt(sd_a^2 + sd_b^2);
-- the 95% interval and prob_positive (the posterior probability that the difference is
-- positive) use the normal approximation with that sd. Imported fits have no sd: their
-- interval and prob_positive are NULL.
-- DuckDB has no normal CDF, so Phi(z) = 1 - erfc(z / sqrt 2) / 2 uses the Chebyshev-fitted
-- erfc of Numerical Recipes (erfcc: relative error under 1.2e-7 everywhere, tails included).
CREATE OR REPLACE VIEW judge_difference AS
WITH d AS (
    SELECT a.judge AS judge_a, b.judge AS judge_b, a.group_name, a.property_set, a.property,
           a.weight - b.weight AS difference,
           sqrt(a.sd * a.sd + b.sd * b.sd) AS sd
    FROM fits a
    JOIN fits b ON b.group_name = a.group_name AND b.property_set = a.property_set
               AND b.property = a.property AND b.judge <> a.judge
),
z AS (
    SELECT *, abs(difference) / (sd * sqrt(2.0)) AS x, 1.0 / (1.0 + 0.5 * abs(difference) / (sd * sqrt(2.0))) AS t
    FROM d
),
tail AS (  -- erfc(x) for x >= 0
    SELECT *, t * exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
              + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
              + t * (-0.82215223 + t * 0.17087277))))))))) AS erfc_x
    FROM z
    WHERE sd > 0
)
SELECT d.judge_a, d.judge_b, d.group_name, d.property_set, d.property, d.difference,
       d.difference - 1.959963984540054 * d.sd AS ci_low,
       d.difference + 1.959963984540054 * d.sd AS ci_high,
       CASE WHEN d.sd IS NULL THEN NULL
            WHEN d.sd = 0 THEN CASE WHEN d.difference > 0 THEN 1.0 WHEN d.difference < 0 THEN 0.0 ELSE 0.5 END
            WHEN d.difference >= 0 THEN 1.0 - 0.5 * tail.erfc_x
            ELSE 0.5 * tail.erfc_x END AS prob_positive,
       d.sd
FROM d
LEFT JOIN tail USING (judge_a, judge_b, group_name, property_set, property);
