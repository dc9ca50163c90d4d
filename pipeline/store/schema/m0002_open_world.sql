-- Step 2, the open world: raw labelled pairs, per-pair attributes and raters, property
-- sets, held-out metrics, custom groups and properties, leaderboards and forecasts.
-- DuckDB cannot change a primary key in place, so properties, fits and fit_runs are
-- rebuilt: rows go to a temporary table and come back under the new key.

ALTER TABLE pairs ADD COLUMN annotated BOOLEAN DEFAULT TRUE;  -- FALSE: a raw labelled pair, no annotations
-- ADD COLUMN gives every existing row the default (schema.migrate runs each statement on
-- its own: DuckDB 1.5 refuses this SET NOT NULL after an ADD COLUMN in one transaction).
ALTER TABLE pairs ALTER COLUMN annotated SET NOT NULL;
ALTER TABLE pairs ADD COLUMN n_turns INTEGER DEFAULT 1;
ALTER TABLE labels ADD COLUMN rater VARCHAR;                   -- per-vote user id (Arena's `judge`), else NULL

-- Language, is_code, category tags, turn and other dataset-specific fields.
CREATE TABLE pair_attributes (
    pair_id  INTEGER NOT NULL,
    key      VARCHAR NOT NULL,
    value    VARCHAR,
    PRIMARY KEY (pair_id, key)
);

-- The registry is filled from pipeline.properties.registry_rows() after every migration.
DROP TABLE properties;
CREATE TABLE properties (
    property_set    VARCHAR NOT NULL,  -- 'paper', 'style', 'custom'
    property_index  INTEGER NOT NULL,  -- order within the set (the paper's 0..28)
    property        VARCHAR NOT NULL UNIQUE,  -- unique across sets: features keep (pair_id, property)
    kind            VARCHAR NOT NULL,
    source_key      VARCHAR,
    description     VARCHAR,
    rule            VARCHAR,           -- how the value is computed, for sets without a source key
    PRIMARY KEY (property_set, property_index)
);

CREATE TEMP TABLE old_fits AS SELECT * FROM fits;
DROP TABLE fits;
CREATE TABLE fits (
    judge         VARCHAR NOT NULL,
    group_name    VARCHAR NOT NULL,
    property_set  VARCHAR NOT NULL DEFAULT 'paper',
    property      VARCHAR NOT NULL,
    weight        DOUBLE NOT NULL,     -- posterior mean
    sd            DOUBLE,              -- posterior standard deviation
    ci_low        DOUBLE,              -- 95% credible interval
    ci_high       DOUBLE,
    source        VARCHAR,             -- 'fit' for ours, or the imported source
    PRIMARY KEY (judge, group_name, property_set, property)
);
INSERT INTO fits (judge, group_name, property, weight, sd, ci_low, ci_high, source)
SELECT judge, group_name, property, weight, sd, ci_low, ci_high, source FROM old_fits;
DROP TABLE old_fits;

CREATE TEMP TABLE old_fit_runs AS SELECT * FROM fit_runs;
DROP TABLE fit_runs;
CREATE TABLE fit_runs (
    judge              VARCHAR NOT NULL,
    group_name         VARCHAR NOT NULL,
    property_set       VARCHAR NOT NULL DEFAULT 'paper',
    status             VARCHAR NOT NULL,   -- 'fitted', 'skipped', 'imported'
    n_pairs            INTEGER,            -- labelled usable pairs in the group
    accuracy           DOUBLE,             -- held-out (k-fold) accuracy of the fitted model
    log_loss           DOUBLE,             -- held-out log loss
    auc                DOUBLE,             -- held-out area under the ROC curve
    calibration_error  DOUBLE,             -- held-out expected calibration error
    method             VARCHAR,
    folds              INTEGER,
    note               VARCHAR,
    fitted_at          TIMESTAMP DEFAULT current_timestamp,
    group_kind         VARCHAR,            -- 'scenario', 'query-specific', 'all' or 'custom'
    position           INTEGER,            -- imported: the judge's line in its file, so export keeps the order
    PRIMARY KEY (judge, group_name, property_set)
);
INSERT INTO fit_runs (judge, group_name, status, n_pairs, accuracy, method, folds, note, fitted_at, group_kind, position)
SELECT judge, group_name, status, n_pairs, accuracy, method, folds, note, fitted_at, group_kind, position FROM old_fit_runs;
DROP TABLE old_fit_runs;

-- Members of a custom group are stored in pair_groups with group_kind = 'custom'.
CREATE TABLE custom_groups (
    group_name  VARCHAR PRIMARY KEY,
    where_sql   VARCHAR NOT NULL,
    note        VARCHAR,
    created_at  TIMESTAMP
);

CREATE TABLE custom_properties (
    property         VARCHAR PRIMARY KEY,
    question         VARCHAR NOT NULL,
    scale            VARCHAR NOT NULL,   -- 'compare' or 'rating'
    prompt_version   VARCHAR,
    definition_file  VARCHAR,
    defined_at       TIMESTAMP
);

-- Scale 'rating': each response's score; the feature itself goes to features.
CREATE TABLE custom_ratings (
    pair_id   INTEGER NOT NULL,
    response  TINYINT NOT NULL,
    property  VARCHAR NOT NULL,
    score     DOUBLE,
    PRIMARY KEY (pair_id, response, property)
);

CREATE TABLE leaderboard (
    judge        VARCHAR NOT NULL,
    group_name   VARCHAR NOT NULL,
    control      VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    strength     DOUBLE,
    ci_low       DOUBLE,
    ci_high      DOUBLE,
    rank         INTEGER,
    n_battles    INTEGER,
    elo          DOUBLE,
    rank_change  INTEGER,
    PRIMARY KEY (judge, group_name, control, model)
);

CREATE TABLE leaderboard_runs (
    judge              VARCHAR NOT NULL,
    group_name         VARCHAR NOT NULL,
    control            VARCHAR NOT NULL,
    n_battles          INTEGER,
    n_models           INTEGER,
    n_models_left_out  INTEGER,
    min_battles        INTEGER,
    ci_method          VARCHAR,
    note               VARCHAR,
    fitted_at          TIMESTAMP,
    PRIMARY KEY (judge, group_name, control)
);

CREATE TABLE leaderboard_controls (
    judge       VARCHAR NOT NULL,
    group_name  VARCHAR NOT NULL,
    control     VARCHAR NOT NULL,
    property    VARCHAR NOT NULL,
    weight      DOUBLE,
    ci_low      DOUBLE,
    ci_high     DOUBLE,
    PRIMARY KEY (judge, group_name, control, property)
);

CREATE TABLE forecasts (
    judge         VARCHAR NOT NULL,
    group_name    VARCHAR NOT NULL,
    property_set  VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    property      VARCHAR NOT NULL,
    direction     VARCHAR NOT NULL,   -- 'better' or 'worse'
    n_pairs       INTEGER,
    win_rate      DOUBLE,
    shift         DOUBLE,
    ci_low        DOUBLE,
    ci_high       DOUBLE,
    PRIMARY KEY (judge, group_name, property_set, model, property, direction)
);
