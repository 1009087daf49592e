/** Steps of a decision in plain words, for `portcullis explain`. Only collected when asked for (never on the hot path). */
export interface ExplainStep {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export type Explain = (step: ExplainStep) => void;
