-- Step 4, baselines and warnings of the dissection fits (issue 17). Every held-out metric
-- gets the constant baseline computed on the same folds, and the layout facts that make a
-- fit's weights hard to read are kept so the app can warn. Files fitted before this step
-- get NULL here until refitted.
ALTER TABLE fit_runs ADD COLUMN baseline_accuracy DOUBLE;   -- always the training folds' more frequent choice
ALTER TABLE fit_runs ADD COLUMN baseline_log_loss DOUBLE;   -- the training folds' choice rate as the prediction
ALTER TABLE fit_runs ADD COLUMN share_response_1 DOUBLE;    -- share of the judge's labels that chose response 1
ALTER TABLE fit_runs ADD COLUMN constant_model_1 VARCHAR;   -- the model that is response 1 in every pair, else NULL
ALTER TABLE fit_runs ADD COLUMN adjust VARCHAR;             -- 'models': fitted with the response models' strengths
