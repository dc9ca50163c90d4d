-- depends: response_measures
-- How often each judge prefers the longer response, among pairs whose lengths differ: words
-- from the measures (response_measures), so raw pairs count as well as annotated ones.
CREATE OR REPLACE VIEW length_effect AS
WITH lengths AS (
    SELECT pair_id,
           max(value) FILTER (WHERE side = 1) AS words_1,
           max(value) FILTER (WHERE side = 2) AS words_2
    FROM response_measures
    WHERE measure = 'words'
    GROUP BY pair_id
)
SELECT l.judge,
       count(*) AS n,
       avg(CASE WHEN (w.words_1 > w.words_2) = (l.preferred = 1) THEN 1 ELSE 0 END) AS longer_win_rate
FROM labels l
JOIN lengths w USING (pair_id)
WHERE w.words_1 IS NOT NULL AND w.words_2 IS NOT NULL AND w.words_1 <> w.words_2
GROUP BY l.judge;
