// EKS allows a fixed number of access entries per cluster (its service quota "access entries per
// cluster", 3 000, not adjustable). Each person with a live grant on an access-entries cluster holds one,
// beside the nodes', the administrators' and everyone else's: a cluster at the limit can map no one new,
// and CreateAccessEntry fails. Watched by `doctor` and the reconciler's gauge before that happens.

export const ACCESS_ENTRY_LIMIT = 3000;

/** From this share of the limit on, doctor warns and EksAccessAccessEntriesNearLimit fires. */
export const ACCESS_ENTRY_WARNING_SHARE = 0.9;

export interface EntryHeadroom {
  ok: boolean;
  warning: boolean;
  detail: string;
  fix?: string;
}

/** What `total` entries on cluster `eksName` leave, in doctor's terms. */
export function accessEntryHeadroom(total: number, eksName: string): EntryHeadroom {
  const detail = `${total} of ${ACCESS_ENTRY_LIMIT} (EKS's limit per cluster)`;
  const fix =
    `List them (aws eks list-access-entries --cluster-name ${eksName}) and delete those nobody uses; ` +
    "eks-access removes its own at each grant's end, so a full cluster is mostly entries made by others.";
  if (total >= ACCESS_ENTRY_LIMIT)
    return {
      ok: false,
      warning: false,
      detail: `${detail}: no one new can be mapped, grants are refused`,
      fix,
    };
  if (total >= ACCESS_ENTRY_LIMIT * ACCESS_ENTRY_WARNING_SHARE)
    return { ok: true, warning: true, detail: `${detail}: ${ACCESS_ENTRY_LIMIT - total} left`, fix };
  return { ok: true, warning: false, detail };
}
