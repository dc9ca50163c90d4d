-- depends: none
-- How often each judge prefers the longer response, among pairs whose lengths differ.
CREATE OR REPLACE VIEW length_effect AS
SELECT l.judge,
       count(*) AS n,
       avg(CASE WHEN (p.num_words_1 > p.num_words_2) = (l.preferred = 1) THEN 1 ELSE 0 END) AS longer_win_rate
FROM labels l
JOIN pairs p USING (pair_id)
WHERE p.num_words_1 IS NOT NULL AND p.num_words_2 IS NOT NULL AND p.num_words_1 <> p.num_words_2
GROUP BY l.judge;
