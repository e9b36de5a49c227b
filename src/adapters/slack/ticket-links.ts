// A reason as Slack mrkdwn with its ticket references linked (policy `tickets.<name>.url`). Everything
// else stays escaped user text, so a reason still cannot mention a channel or forge a link.
import type { TicketSystem } from '../../domain/tickets.js';
import { splitByReferences } from '../../domain/tickets.js';
import { esc } from './blocks.js';

export function linkedReason(reason: string, systems: Readonly<Record<string, TicketSystem>>): string {
  return splitByReferences(reason, systems)
    .map((part) => {
      if ('text' in part) return esc(part.text);
      const { ref, url } = part.reference;
      // A reference is the pattern's text; `|` or `>` in it would end the link early, so such a ref stays text.
      return url && !/[|<>]/.test(ref) ? `<${url}|${esc(ref)}>` : esc(ref);
    })
    .join('');
}
