-- depends: none
-- SPEC 6: the chance that response 1 wins when it is better on this property only,
-- 100 * sigmoid(weight); 50 means indifferent. The 95% credible interval is mapped the
-- same way (sigmoid is monotonic, so the ends stay the ends). Imported fits have no
-- interval: prob_low / prob_high are NULL there. property_set: the set the fit used ('paper',
-- 'style', 'paper+style', 'custom'); property_index is the property's place in its own set.
CREATE OR REPLACE VIEW preference_probability AS
SELECT f.judge, f.group_name, f.property_set, f.property, p.property_index,
       f.weight,
       100 / (1 + exp(-f.weight))  AS probability,
       100 / (1 + exp(-f.ci_low))  AS prob_low,
       100 / (1 + exp(-f.ci_high)) AS prob_high,
       f.source
FROM fits f
JOIN properties p USING (property);
