-- depends: none
-- Every response's measures, a row per (pair_id, side, measure) with its value (DOUBLE): the
-- long form of response_counts (schema step 7), which keeps a column per measure. A measure
-- not taken (NULL there) has no row here. Filter on measure: the other measures are not read.
CREATE OR REPLACE VIEW response_measures AS
SELECT pair_id, side, 'tokens' AS measure, CAST(tokens AS DOUBLE) AS value FROM response_counts WHERE tokens IS NOT NULL
UNION ALL SELECT pair_id, side, 'words', CAST(words AS DOUBLE) FROM response_counts WHERE words IS NOT NULL
UNION ALL SELECT pair_id, side, 'characters', CAST(characters AS DOUBLE) FROM response_counts WHERE characters IS NOT NULL
UNION ALL SELECT pair_id, side, 'headers', CAST(headers AS DOUBLE) FROM response_counts WHERE headers IS NOT NULL
UNION ALL SELECT pair_id, side, 'list_items', CAST(list_items AS DOUBLE) FROM response_counts WHERE list_items IS NOT NULL
UNION ALL SELECT pair_id, side, 'bold', CAST(bold AS DOUBLE) FROM response_counts WHERE bold IS NOT NULL
UNION ALL SELECT pair_id, side, 'code_blocks', CAST(code_blocks AS DOUBLE) FROM response_counts WHERE code_blocks IS NOT NULL
UNION ALL SELECT pair_id, side, 'links', CAST(links AS DOUBLE) FROM response_counts WHERE links IS NOT NULL
UNION ALL SELECT pair_id, side, 'emoji', CAST(emoji AS DOUBLE) FROM response_counts WHERE emoji IS NOT NULL
UNION ALL SELECT pair_id, side, 'questions', CAST(questions AS DOUBLE) FROM response_counts WHERE questions IS NOT NULL
UNION ALL SELECT pair_id, side, 'refusals', CAST(refusals AS DOUBLE) FROM response_counts WHERE refusals IS NOT NULL
UNION ALL SELECT pair_id, side, 'as_an_ai', CAST(as_an_ai AS DOUBLE) FROM response_counts WHERE as_an_ai IS NOT NULL;
