-- depends: none
-- The dataset card's "mean score / count" table, one row per property.
-- Basic properties: mean 0..3 rating over all responses (the raw 'repetitive' rating
-- for non-repetitive, as the card reports it). Query-specific properties: mean item
-- score over responses whose query meets the prerequisite. Errors: mean count per
-- response (applicable checks only). lengthy: mean word count per response.
CREATE OR REPLACE VIEW property_stats AS
WITH basic AS (
    SELECT property, avg(score) AS mean_score, count(score) AS n
    FROM ratings
    GROUP BY property
),
qs_per_response AS (
    SELECT q.pair_id, q.response, q.property, avg(q.score) AS score
    FROM query_specific q
    JOIN query_facts f USING (pair_id)
    WHERE (q.property = 'clarify intent' AND f.clear_intent = FALSE)
       OR (q.property = 'show empathetic' AND f.express_feelings = TRUE)
       OR (q.property = 'satisfy constraints' AND f.n_constraints > 0)
       OR (q.property = 'support stances' AND f.n_stances > 0)
       OR (q.property = 'correct mistakes' AND f.n_mistakes > 0)
    GROUP BY ALL
),
qs AS (
    SELECT property, avg(score) AS mean_score, count(*) AS n
    FROM qs_per_response
    GROUP BY property
),
checked AS (
    SELECT pair_id, response FROM error_checks WHERE applicable
),
error_counts AS (
    SELECT s.severity, c.pair_id, c.response,
           count(e.error_index) AS n_errors
    FROM checked c
    CROSS JOIN (VALUES ('minor'), ('moderate'), ('severe')) s(severity)
    LEFT JOIN errors e
      ON e.pair_id = c.pair_id AND e.response = c.response AND e.severity = s.severity
    GROUP BY ALL
),
errs AS (
    SELECT 'no ' || severity || ' errors' AS property, avg(n_errors) AS mean_score, count(*) AS n
    FROM error_counts
    GROUP BY severity
),
lengths AS (
    SELECT 'lengthy' AS property, avg(num_words) AS mean_score, count(num_words) AS n
    FROM (SELECT num_words_1 AS num_words FROM pairs UNION ALL SELECT num_words_2 FROM pairs)
),
everything AS (
    SELECT * FROM basic UNION ALL SELECT * FROM qs UNION ALL SELECT * FROM errs UNION ALL SELECT * FROM lengths
)
SELECT p.property_index, p.property, p.kind,
       CASE WHEN p.kind = 'error' THEN 'mean errors per response'
            WHEN p.kind = 'length' THEN 'mean words per response'
            ELSE 'mean score' END AS measure,
       e.mean_score, coalesce(e.n, 0) AS n
FROM properties p
LEFT JOIN everything e USING (property)
WHERE p.property_set = 'paper'  -- the card's table: the paper's 29
ORDER BY p.property_index;
