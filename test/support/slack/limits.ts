// Slack's documented Block Kit and surface limits, checked the way Slack checks them: every problem is
// reported as "[ERROR] <what> [json-pointer:<where>]", the format Slack puts in response_metadata.messages.
// Sources: api.slack.com/reference/block-kit/{blocks,block-elements,composition-objects,surfaces/views}
// and the chat.postMessage reference (50 blocks; `text` "limited to 4,000 characters" for best results,
// `msg_too_long` past it — Slack truncates at 40,000 — so the fake is strict at 4,000).

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  /** A whole view (modal or Home tab) as JSON: Slack refuses more than 250 kB. */
  viewBytes: 250_000,
  messageText: 4_000,
  sectionText: 3_000,
  sectionFields: 10,
  sectionFieldText: 2_000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  inputLabel: 2_000,
  inputHint: 2_000,
  imageAltText: 2_000,
  imageUrl: 3_000,
  markdownBlockText: 12_000,
  blockId: 255,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2_000,
  buttonUrl: 3_000,
  placeholder: 150,
  optionText: 75,
  optionValue: 150,
  selectOptions: 100,
  overflowOptions: 5,
  checkboxOptions: 10,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  plainTextInputMax: 3_000,
  viewTitle: 24,
  viewSubmit: 24,
  viewClose: 24,
  privateMetadata: 3_000,
  callbackId: 255,
  externalId: 255,
} as const;

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

class Checker {
  readonly errors: string[] = [];

  fail(message: string, pointer: string): void {
    this.errors.push(`[ERROR] ${message} [json-pointer:${pointer}]`);
  }

  maxLength(value: unknown, max: number, pointer: string): void {
    if (typeof value === 'string' && value.length > max)
      this.fail(`must be less than ${max + 1} characters`, pointer);
  }

  /** A text composition object; `plain` when Slack allows only plain_text there. */
  text(value: unknown, pointer: string, max: number, plain = false): void {
    if (!isObj(value)) {
      this.fail('must provide an object', pointer);
      return;
    }
    if (value['type'] !== 'plain_text' && value['type'] !== 'mrkdwn') {
      this.fail('must be one of "plain_text", "mrkdwn"', `${pointer}/type`);
      return;
    }
    if (plain && value['type'] !== 'plain_text') this.fail('must be plain_text', `${pointer}/type`);
    const text = value['text'];
    if (typeof text !== 'string' || text.length === 0) {
      this.fail('must be more than 0 characters', `${pointer}/text`);
      return;
    }
    this.maxLength(text, max, `${pointer}/text`);
  }

  optionalText(value: unknown, pointer: string, max: number, plain = false): void {
    if (value !== undefined) this.text(value, pointer, max, plain);
  }

  list(value: unknown, pointer: string, min: number, max: number): unknown[] {
    if (!Array.isArray(value)) {
      this.fail('must provide an array', pointer);
      return [];
    }
    if (value.length < min) this.fail(`must provide at least ${min} items`, pointer);
    if (value.length > max) this.fail(`must provide no more than ${max} items`, pointer);
    return value;
  }

  confirm(value: unknown, pointer: string): void {
    if (value === undefined) return;
    if (!isObj(value)) {
      this.fail('must provide an object', pointer);
      return;
    }
    this.text(value['title'], `${pointer}/title`, LIMITS.confirmTitle, true);
    this.text(value['text'], `${pointer}/text`, LIMITS.confirmText);
    this.text(value['confirm'], `${pointer}/confirm`, LIMITS.confirmButton, true);
    this.text(value['deny'], `${pointer}/deny`, LIMITS.confirmButton, true);
  }

  options(value: unknown, pointer: string, max: number): void {
    this.list(value, pointer, 1, max).forEach((option, i) => {
      const at = `${pointer}/${i}`;
      if (!isObj(option)) {
        this.fail('must provide an object', at);
        return;
      }
      this.text(option['text'], `${at}/text`, LIMITS.optionText);
      if (typeof option['value'] !== 'string') this.fail('must provide a string', `${at}/value`);
      this.maxLength(option['value'], LIMITS.optionValue, `${at}/value`);
    });
  }

  element(value: unknown, pointer: string): void {
    if (!isObj(value)) {
      this.fail('must provide an object', pointer);
      return;
    }
    this.maxLength(value['action_id'], LIMITS.actionId, `${pointer}/action_id`);
    this.confirm(value['confirm'], `${pointer}/confirm`);
    this.optionalText(value['placeholder'], `${pointer}/placeholder`, LIMITS.placeholder, true);
    switch (value['type']) {
      case 'button':
        this.text(value['text'], `${pointer}/text`, LIMITS.buttonText, true);
        this.maxLength(value['value'], LIMITS.buttonValue, `${pointer}/value`);
        this.maxLength(value['url'], LIMITS.buttonUrl, `${pointer}/url`);
        if (value['style'] !== undefined && value['style'] !== 'primary' && value['style'] !== 'danger') {
          this.fail('must be one of "primary", "danger"', `${pointer}/style`);
        }
        return;
      case 'static_select':
      case 'multi_static_select':
        if (value['options'] !== undefined)
          this.options(value['options'], `${pointer}/options`, LIMITS.selectOptions);
        else if (value['option_groups'] === undefined)
          this.fail('must provide options or option_groups', pointer);
        return;
      case 'overflow':
        this.options(value['options'], `${pointer}/options`, LIMITS.overflowOptions);
        return;
      case 'checkboxes':
      case 'radio_buttons':
        this.options(value['options'], `${pointer}/options`, LIMITS.checkboxOptions);
        return;
      case 'plain_text_input':
        if (typeof value['max_length'] === 'number' && value['max_length'] > LIMITS.plainTextInputMax) {
          this.fail(`must be less than ${LIMITS.plainTextInputMax + 1}`, `${pointer}/max_length`);
        }
        return;
      case 'image':
        this.maxLength(value['alt_text'], LIMITS.imageAltText, `${pointer}/alt_text`);
        return;
      case 'users_select':
      case 'multi_users_select':
      case 'conversations_select':
      case 'multi_conversations_select':
      case 'channels_select':
      case 'multi_channels_select':
      case 'external_select':
      case 'multi_external_select':
      case 'datepicker':
      case 'timepicker':
      case 'datetimepicker':
      case 'email_text_input':
      case 'number_input':
      case 'url_text_input':
      case 'rich_text_input':
        return;
      default:
        this.fail(`unsupported element type ${JSON.stringify(value['type'])}`, `${pointer}/type`);
    }
  }

  block(value: unknown, pointer: string, blockIds: Set<string>): void {
    if (!isObj(value)) {
      this.fail('must provide an object', pointer);
      return;
    }
    const blockId = value['block_id'];
    if (blockId !== undefined) {
      this.maxLength(blockId, LIMITS.blockId, `${pointer}/block_id`);
      if (typeof blockId === 'string' && blockIds.has(blockId))
        this.fail('duplicate block_id', `${pointer}/block_id`);
      if (typeof blockId === 'string') blockIds.add(blockId);
    }
    switch (value['type']) {
      case 'section': {
        if (value['text'] === undefined && value['fields'] === undefined) {
          this.fail('must provide text or fields', pointer);
        }
        this.optionalText(value['text'], `${pointer}/text`, LIMITS.sectionText);
        if (value['fields'] !== undefined) {
          this.list(value['fields'], `${pointer}/fields`, 1, LIMITS.sectionFields).forEach((field, i) => {
            this.text(field, `${pointer}/fields/${i}`, LIMITS.sectionFieldText);
          });
        }
        if (value['accessory'] !== undefined) this.element(value['accessory'], `${pointer}/accessory`);
        return;
      }
      case 'header':
        this.text(value['text'], `${pointer}/text`, LIMITS.headerText, true);
        return;
      case 'divider':
      case 'rich_text':
      case 'file':
      case 'video':
        return;
      case 'context':
        this.list(value['elements'], `${pointer}/elements`, 1, LIMITS.contextElements).forEach(
          (element, i) => {
            const at = `${pointer}/elements/${i}`;
            if (isObj(element) && element['type'] === 'image') this.element(element, at);
            else this.text(element, at, LIMITS.sectionText);
          },
        );
        return;
      case 'actions': {
        // Slack refuses two elements of one block with the same action_id (across blocks they may repeat).
        const actionIds = new Set<unknown>();
        this.list(value['elements'], `${pointer}/elements`, 1, LIMITS.actionsElements).forEach(
          (element, i) => {
            this.element(element, `${pointer}/elements/${i}`);
            const actionId = isObj(element) ? element['action_id'] : undefined;
            if (actionId === undefined) return;
            if (actionIds.has(actionId))
              this.fail('duplicate action_id', `${pointer}/elements/${i}/action_id`);
            actionIds.add(actionId);
          },
        );
        return;
      }
      case 'input':
        this.text(value['label'], `${pointer}/label`, LIMITS.inputLabel, true);
        this.optionalText(value['hint'], `${pointer}/hint`, LIMITS.inputHint, true);
        this.element(value['element'], `${pointer}/element`);
        return;
      case 'image':
        this.maxLength(value['image_url'], LIMITS.imageUrl, `${pointer}/image_url`);
        this.maxLength(value['alt_text'], LIMITS.imageAltText, `${pointer}/alt_text`);
        this.optionalText(value['title'], `${pointer}/title`, LIMITS.imageAltText, true);
        return;
      case 'markdown':
        this.maxLength(value['text'], LIMITS.markdownBlockText, `${pointer}/text`);
        return;
      default:
        this.fail(`unsupported block type ${JSON.stringify(value['type'])}`, `${pointer}/type`);
    }
  }

  blocks(value: unknown, pointer: string, max: number): void {
    const blockIds = new Set<string>();
    this.list(value, pointer, 0, max).forEach((block, i) => {
      this.block(block, `${pointer}/${i}`, blockIds);
    });
  }
}

/** Problems with a message's blocks (chat.postMessage, chat.update, chat.postEphemeral); empty when valid. */
export function checkMessageBlocks(blocks: unknown): string[] {
  const check = new Checker();
  if (blocks !== undefined) check.blocks(blocks, '/blocks', LIMITS.messageBlocks);
  return check.errors;
}

/**
 * Problems with an app's answer to an options request (block_suggestion): `{ options: [...] }` with at
 * most 100, each like a static select's; none is a valid answer (nothing matched). Empty when valid.
 */
export function checkOptionsResponse(payload: unknown): string[] {
  const check = new Checker();
  const options = isObj(payload) ? payload['options'] : undefined;
  if (!Array.isArray(options)) check.fail('must provide an array', '/options');
  else if (options.length > 0) check.options(options, '/options', LIMITS.selectOptions);
  return check.errors;
}

/** Problems with a view (views.open/update/push: a modal; views.publish: a home tab); empty when valid. */
export function checkView(view: unknown, expected: 'modal' | 'home' | 'modal-or-home'): string[] {
  const check = new Checker();
  if (!isObj(view)) {
    check.fail('must provide an object', '/view');
    return check.errors;
  }
  const type = view['type'];
  if (expected === 'modal-or-home' ? type !== 'modal' && type !== 'home' : type !== expected) {
    check.fail(
      `must be ${expected === 'modal-or-home' ? '"modal" or "home"' : `"${expected}"`}`,
      '/view/type',
    );
  }
  if (type === 'modal') {
    check.text(view['title'], '/view/title', LIMITS.viewTitle, true);
    check.optionalText(view['submit'], '/view/submit', LIMITS.viewSubmit, true);
    check.optionalText(view['close'], '/view/close', LIMITS.viewClose, true);
    const blocks = Array.isArray(view['blocks']) ? view['blocks'] : [];
    if (view['submit'] === undefined && blocks.some((b) => isObj(b) && b['type'] === 'input')) {
      check.fail('must provide submit when an input block is present', '/view/submit');
    }
  }
  check.maxLength(view['private_metadata'], LIMITS.privateMetadata, '/view/private_metadata');
  check.maxLength(view['callback_id'], LIMITS.callbackId, '/view/callback_id');
  check.maxLength(view['external_id'], LIMITS.externalId, '/view/external_id');
  check.blocks(view['blocks'], '/view/blocks', LIMITS.viewBlocks);
  const bytes = Buffer.byteLength(JSON.stringify(view));
  if (bytes > LIMITS.viewBytes) check.fail(`must be no larger than 250 kB (is ${bytes} bytes)`, '/view');
  return check.errors;
}
