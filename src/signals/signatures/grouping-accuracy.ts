/**
 * Grouping accuracy as the log-parsing literature defines it (Zhu et al., ICSE-SEIP 2019, the Loghub
 * benchmark): a line is parsed correctly when the set of lines in its predicted group is exactly the
 * set of lines in its true group; accuracy = correctly parsed lines / all lines.
 *
 * Computed without comparing sets line by line: a predicted group is correct exactly when all its
 * lines carry one true label and that label's group has the same size.
 */
export interface GroupingReport {
  readonly accuracy: number;
  readonly lines: number;
  readonly correct: number;
  readonly predictedGroups: number;
  readonly trueGroups: number;
  /** True groups that were not recovered exactly, with the predicted groups their lines went to. */
  readonly misses: readonly { readonly label: string; readonly size: number; readonly predicted: number }[];
}

export function groupingAccuracy(predicted: readonly string[], truth: readonly string[]): GroupingReport {
  if (predicted.length !== truth.length) {
    throw new Error(
      `groupingAccuracy: ${predicted.length} predicted labels for ${truth.length} true labels; they must align line by line`,
    );
  }
  const trueSize = new Map<string, number>();
  for (const label of truth) trueSize.set(label, (trueSize.get(label) ?? 0) + 1);
  // predicted group -> the true labels in it (with counts)
  const contents = new Map<string, Map<string, number>>();
  predicted.forEach((group, i) => {
    const label = truth[i] as string;
    let inner = contents.get(group);
    if (inner === undefined) {
      inner = new Map();
      contents.set(group, inner);
    }
    inner.set(label, (inner.get(label) ?? 0) + 1);
  });
  let correct = 0;
  const exact = new Set<string>();
  for (const inner of contents.values()) {
    if (inner.size !== 1) continue;
    const [label, size] = inner.entries().next().value as [string, number];
    if (trueSize.get(label) === size) {
      correct += size;
      exact.add(label);
    }
  }
  const spread = new Map<string, number>();
  for (const inner of contents.values())
    for (const label of inner.keys()) spread.set(label, (spread.get(label) ?? 0) + 1);
  const misses = [...trueSize.entries()]
    .filter(([label]) => !exact.has(label))
    .map(([label, size]) => ({ label, size, predicted: spread.get(label) ?? 0 }))
    .sort((a, b) => b.size - a.size);
  return {
    accuracy: truth.length === 0 ? 1 : correct / truth.length,
    lines: truth.length,
    correct,
    predictedGroups: contents.size,
    trueGroups: trueSize.size,
    misses,
  };
}
