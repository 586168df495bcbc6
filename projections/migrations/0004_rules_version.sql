-- kam read model, schema 4: the state row says which version of kam's rules
-- built the model (projections.RulesVersion). A model made before this column
-- existed was built by version 1.
ALTER TABLE projector_state ADD COLUMN rules INTEGER NOT NULL DEFAULT 1;
