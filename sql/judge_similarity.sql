-- depends: none
-- SPEC 6: similarity of two judges in a group = Pearson correlation of their weights (the 29
-- of the paper set, or those of the property set the fits used: one row per property_set),
-- for every ordered pair of judges with fits in that group (the diagonal included, 1),
-- fitted and imported judges alike. 'Overall' is the mean over the scenario groups both
-- judges have; query-specific, 'All' and custom groups are not part of it. A group's kind comes from
-- fit_runs (set by fit and import-fits), else from pair_groups. n_groups: how many
-- groups the row stands for (1, or the scenario groups averaged into Overall).
-- A judge whose weights are all equal has no correlation: similarity is NULL.
CREATE OR REPLACE VIEW judge_similarity AS
WITH kinds AS (
    SELECT group_name, min(group_kind) AS group_kind   -- a name used as both kinds counts as query-specific
    FROM (SELECT group_name, group_kind FROM fit_runs WHERE group_kind IS NOT NULL
          UNION
          SELECT DISTINCT group_name, group_kind FROM pair_groups)
    GROUP BY group_name
),
per_group AS (
    SELECT a.judge AS judge_a, b.judge AS judge_b, a.group_name, a.property_set,
           corr(a.weight, b.weight) AS r
    FROM fits a
    JOIN fits b ON a.group_name = b.group_name AND a.property_set = b.property_set AND a.property = b.property
    GROUP BY a.judge, b.judge, a.group_name, a.property_set
),
cleaned AS (
    -- clamped: floating-point rounding can put a perfect correlation at 1.0000000000000004
    SELECT judge_a, judge_b, group_name, property_set,
           CASE WHEN isnan(r) THEN NULL ELSE least(greatest(r, -1), 1) END AS similarity
    FROM per_group
)
SELECT judge_a, judge_b, group_name, property_set, similarity, 1 AS n_groups
FROM cleaned
UNION ALL
SELECT c.judge_a, c.judge_b, 'Overall', c.property_set, avg(c.similarity), count(c.similarity)
FROM cleaned c
JOIN kinds k USING (group_name)
WHERE k.group_kind = 'scenario'
GROUP BY c.judge_a, c.judge_b, c.property_set;
