-- Step 1, the baseline: the tables as they stood before the schema had a version.
-- IF NOT EXISTS, so a file made before versioning (version 0) keeps its rows and only
-- gains what it lacks; the two ALTERs bring fit_runs of the oldest files up to date.

CREATE TABLE IF NOT EXISTS sources (
    source      VARCHAR PRIMARY KEY,   -- short name, e.g. 'demo', 'GAIR/preference-dissection', 'my_pairs.jsonl'
    kind        VARCHAR NOT NULL,      -- 'release', 'generated', 'annotated', 'fitted_paras'
    location    VARCHAR,               -- file path or hf:OWNER/NAME it was read from
    fingerprint VARCHAR,               -- sha256 of the file(s), to recognise a reload
    generated   BOOLEAN NOT NULL DEFAULT FALSE,  -- synthetic data: shown as such everywhere
    n_pairs     INTEGER,
    loaded_at   TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS pairs (
    pair_id          INTEGER PRIMARY KEY,  -- 0-based position in the first source; later sources continue after
    source           VARCHAR NOT NULL,
    source_index     INTEGER NOT NULL,     -- 0-based position of the record in its source
    source_id        VARCHAR,              -- the record's own id, when it has one
    pair_key         VARCHAR NOT NULL UNIQUE,  -- hash of query and both responses: a pair is stored once
    query            VARCHAR NOT NULL,
    scenario_auto_j  VARCHAR,
    scenario_group   VARCHAR,
    model_1          VARCHAR,
    model_2          VARCHAR,
    response_1       VARCHAR NOT NULL,
    response_2       VARCHAR NOT NULL,
    num_words_1      INTEGER,
    num_words_2      INTEGER,
    reference        VARCHAR,              -- the annotator's reference answer (gpt-4-turbo_reference)
    usable           BOOLEAN NOT NULL      -- both error checks applicable: the pair has features for fitting
);

CREATE TABLE IF NOT EXISTS judges (
    judge                VARCHAR PRIMARY KEY,
    kind                 VARCHAR,          -- 'human', 'llm', 'reward model', ...
    size_b               DOUBLE,           -- size in billions of parameters, orders the similarity matrix
    source               VARCHAR,          -- where its labels (or fits) came from
    note                 VARCHAR,
    position_consistency DOUBLE,           -- LLM judges asked in both orders: share of pairs where both agree
    added_at             TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS labels (
    pair_id    INTEGER NOT NULL,
    judge      VARCHAR NOT NULL,
    preferred  TINYINT NOT NULL CHECK (preferred IN (1, 2)),
    prob_1     DOUBLE,                     -- probability that response 1 is better, when the judge gave one
    PRIMARY KEY (pair_id, judge)
);

-- Query facts (SPEC section 2): one row per pair.
CREATE TABLE IF NOT EXISTS query_facts (
    pair_id           INTEGER PRIMARY KEY,
    clear_intent      BOOLEAN,
    express_feelings  BOOLEAN,
    n_constraints     INTEGER NOT NULL,
    n_stances         INTEGER NOT NULL,
    n_mistakes        INTEGER NOT NULL
);

-- The listed constraints, stances and mistakes of each query.
CREATE TABLE IF NOT EXISTS query_items (
    pair_id     INTEGER NOT NULL,
    item_kind   VARCHAR NOT NULL,   -- 'constraint', 'stance', 'mistake'
    item_index  INTEGER NOT NULL,
    text        VARCHAR
);

-- Basic ratings 0..3 (20 per response), long format. score is NULL when missing.
CREATE TABLE IF NOT EXISTS ratings (
    pair_id   INTEGER NOT NULL,
    response  TINYINT NOT NULL,     -- 1 or 2
    property  VARCHAR NOT NULL,     -- short name; 'non-repetitive' holds the raw 'repetitive' rating
    aspect    VARCHAR NOT NULL,     -- the original rating key
    score     DOUBLE
);

CREATE TABLE IF NOT EXISTS error_checks (
    pair_id     INTEGER NOT NULL,
    response    TINYINT NOT NULL,
    applicable  BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS errors (
    pair_id      INTEGER NOT NULL,
    response     TINYINT NOT NULL,
    error_index  INTEGER NOT NULL,
    severity     VARCHAR,            -- 'severe', 'moderate', 'minor'
    error_type   VARCHAR,
    description  VARCHAR
);

-- Query-specific results, long format: one row per rated item (or one for a bare score).
CREATE TABLE IF NOT EXISTS query_specific (
    pair_id      INTEGER NOT NULL,
    response     TINYINT NOT NULL,
    property     VARCHAR NOT NULL,   -- 'clarify intent', 'show empathetic', 'satisfy constraints', ...
    item_index   INTEGER NOT NULL,
    description  VARCHAR,
    label        VARCHAR,            -- the raw value: a score or a category
    score        DOUBLE              -- the label on the numeric scale of SPEC 4c
);

-- Features (SPEC section 4), only for pairs usable for fitting.
CREATE TABLE IF NOT EXISTS features (
    pair_id   INTEGER NOT NULL,
    property  VARCHAR NOT NULL,
    value     TINYINT NOT NULL,
    PRIMARY KEY (pair_id, property)
);

CREATE TABLE IF NOT EXISTS pair_groups (
    pair_id     INTEGER NOT NULL,
    group_name  VARCHAR NOT NULL,
    group_kind  VARCHAR NOT NULL,    -- 'scenario' or 'query-specific'
    PRIMARY KEY (pair_id, group_name)
);

-- The property registry, so SQL can order and label properties.
CREATE TABLE IF NOT EXISTS properties (
    property_index  INTEGER PRIMARY KEY,
    property        VARCHAR NOT NULL UNIQUE,
    kind            VARCHAR NOT NULL,
    source_key      VARCHAR NOT NULL,
    description     VARCHAR
);

-- Fitted posterior summaries (issue: dissection engine).
CREATE TABLE IF NOT EXISTS fits (
    judge       VARCHAR NOT NULL,
    group_name  VARCHAR NOT NULL,
    property    VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL,     -- posterior mean
    sd          DOUBLE,              -- posterior standard deviation
    ci_low      DOUBLE,              -- 95% credible interval
    ci_high     DOUBLE,
    source      VARCHAR,             -- 'fit' for ours, or the imported source
    PRIMARY KEY (judge, group_name, property)
);

CREATE TABLE IF NOT EXISTS fit_runs (
    judge        VARCHAR NOT NULL,
    group_name   VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,   -- 'fitted', 'skipped', 'imported'
    n_pairs      INTEGER,            -- labelled usable pairs in the group
    accuracy     DOUBLE,             -- held-out (k-fold) accuracy of the fitted model
    method       VARCHAR,
    folds        INTEGER,
    note         VARCHAR,
    fitted_at    TIMESTAMP DEFAULT current_timestamp,
    group_kind   VARCHAR,            -- 'scenario' or 'query-specific': Overall similarity averages scenario groups
    position     INTEGER,            -- imported: the judge's line in its file, so export keeps the order
    PRIMARY KEY (judge, group_name)
);
-- Files from before these two columns existed (no-op otherwise).
ALTER TABLE fit_runs ADD COLUMN IF NOT EXISTS group_kind VARCHAR;
ALTER TABLE fit_runs ADD COLUMN IF NOT EXISTS position INTEGER;
