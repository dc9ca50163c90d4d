-- depends: none
-- How often each judge prefers each response model: wins / appearances, by judge.
CREATE OR REPLACE VIEW model_win_rates AS
WITH appearances AS (
    SELECT l.judge, p.model_1 AS model, (l.preferred = 1)::INTEGER AS won
    FROM labels l JOIN pairs p USING (pair_id)
    UNION ALL
    SELECT l.judge, p.model_2, (l.preferred = 2)::INTEGER
    FROM labels l JOIN pairs p USING (pair_id)
)
SELECT judge, model, count(*) AS n, sum(won)::BIGINT AS wins, avg(won) AS win_rate
FROM appearances
WHERE model IS NOT NULL
GROUP BY judge, model;
