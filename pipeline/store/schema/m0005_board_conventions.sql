-- Leaderboards with the field's conventions (issue 17): ties kept, interval method, control
-- form, held-out losses and dropped controls per board; style transfers of `whatif --as/--scale`.

-- A tie a judge gave (LMArena counts it as half a win for each side). Ties are not labels:
-- `labels` keeps only 1/2 choices. pair_id is the stored pair when the row was stored for its
-- other votes, else NULL (then the tie counts only in the group 'All').
CREATE TABLE ties (
    source   VARCHAR NOT NULL,
    judge    VARCHAR NOT NULL,
    model_1  VARCHAR,
    model_2  VARCHAR,
    pair_id  INTEGER,
    rater    VARCHAR
);

ALTER TABLE leaderboard ADD COLUMN win_rate DOUBLE;                 -- the model's share of its fitted battles won
ALTER TABLE leaderboard ADD COLUMN mean_tokens DOUBLE;              -- mean tokens of its responses in those battles
ALTER TABLE leaderboard_runs ADD COLUMN ties VARCHAR;               -- 'drop' or 'half'
ALTER TABLE leaderboard_runs ADD COLUMN n_ties INTEGER;             -- ties counted as half a win
ALTER TABLE leaderboard_runs ADD COLUMN control_form VARCHAR;       -- 'sign' or 'continuous' (NULL: raw)
ALTER TABLE leaderboard_runs ADD COLUMN heldout_log_loss DOUBLE;    -- this board, k-fold
ALTER TABLE leaderboard_runs ADD COLUMN heldout_log_loss_raw DOUBLE;  -- the raw model on the same battles and folds
ALTER TABLE leaderboard_runs ADD COLUMN controls_dropped VARCHAR;   -- constant/collinear controls left out or merged, and why

CREATE TABLE style_transfers (
    judge         VARCHAR NOT NULL,
    group_name    VARCHAR NOT NULL,
    property_set  VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    as_model      VARCHAR,              -- NULL for a scale scenario
    scenario      VARCHAR NOT NULL,     -- 'as <model>' or 'scale tokens=1.5,...'
    n_pairs       INTEGER,
    observed      DOUBLE,               -- the model's measured win rate under the judge
    forecast      DOUBLE,
    ci_low        DOUBLE,
    ci_high       DOUBLE,
    observed_as   DOUBLE,               -- as_model's measured win rate under the judge, where it has battles
    PRIMARY KEY (judge, group_name, property_set, model, scenario)
);
