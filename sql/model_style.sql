-- depends: response_measures
-- Per response model, from the measures of its responses (response_measures): how many
-- responses, how long (median and mean tokens, mean words), and the share of its responses
-- with at least one header, list item, bold span, code block, link, emoji, refusal or
-- "as an AI" self-reference. A response counts once per stored pair it is in; responses of
-- pairs without model names are left out.
CREATE OR REPLACE VIEW model_style AS
WITH responses AS (
    SELECT CASE m.side WHEN 1 THEN p.model_1 ELSE p.model_2 END AS model, m.measure, m.value
    FROM response_measures m
    JOIN pairs p USING (pair_id)
)
SELECT model,
       count(*) FILTER (WHERE measure = 'tokens') AS responses,
       median(value) FILTER (WHERE measure = 'tokens') AS median_tokens,
       avg(value) FILTER (WHERE measure = 'tokens') AS mean_tokens,
       avg(value) FILTER (WHERE measure = 'words') AS mean_words,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'headers') AS share_headers,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'list_items') AS share_lists,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'bold') AS share_bold,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'code_blocks') AS share_code,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'links') AS share_links,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'emoji') AS share_emoji,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'refusals') AS share_refusals,
       avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) FILTER (WHERE measure = 'as_an_ai') AS share_as_an_ai
FROM responses
WHERE model IS NOT NULL AND model <> ''
GROUP BY model;
