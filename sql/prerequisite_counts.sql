-- depends: none
-- How many pairs meet each query-specific prerequisite (the dataset card's first table).
CREATE OR REPLACE VIEW prerequisite_counts AS
SELECT 'Unclear User Intent' AS group_name, 'clear intent is No' AS prerequisite,
       count(*) FILTER (WHERE clear_intent = FALSE) AS n_pairs FROM query_facts
UNION ALL
SELECT 'Express Feelings or Emotions', 'explicitly express feelings is Yes',
       count(*) FILTER (WHERE express_feelings = TRUE) FROM query_facts
UNION ALL
SELECT 'Contain Explicit Constraints', 'explicit constraints listed',
       count(*) FILTER (WHERE n_constraints > 0) FROM query_facts
UNION ALL
SELECT 'Show Explicit Subjective Stances', 'explicit subjective stances listed',
       count(*) FILTER (WHERE n_stances > 0) FROM query_facts
UNION ALL
SELECT 'Contain Mistakes or Bias', 'explicit mistakes or biases listed',
       count(*) FILTER (WHERE n_mistakes > 0) FROM query_facts;
