// Shapes shared by the fake Slack's parts. Loose on purpose (Block Kit is open-ended JSON), typed where a
// test reads them: the arguments of the Web API methods the bot calls.

export type Obj = Record<string, unknown>;

export interface Block {
  type: string;
  block_id?: string;
  [key: string]: unknown;
}

export interface View {
  id: string;
  type: 'modal' | 'home';
  callback_id?: string;
  private_metadata?: string;
  external_id?: string;
  title?: Obj;
  blocks: Block[];
  hash: string;
  /** What the person has entered: block_id → action_id → value object, as Slack sends it. */
  state?: { values: Record<string, Record<string, Obj>> };
  [key: string]: unknown;
}

export interface SlackUser {
  id: string;
  name?: string;
  real_name?: string;
  email?: string;
  is_bot?: boolean;
  deleted?: boolean;
  tz?: string;
}

/** A channel of the fake workspace. */
export interface ChannelSpec {
  /** Private channels are invisible to a bot that is not in them (default: ids starting with G). */
  private?: boolean;
  /** Whether the bot is a member, as after `/invite @eks-access` (default true). */
  bot?: boolean;
  /** The people in it (default: everyone in the workspace). */
  members?: string[];
  /** Archived: nothing can be posted (is_archived) or edited (is_inactive) in it. */
  archived?: boolean;
}

/** Arguments of the Web API methods tests look at most; every other method gets `Obj`. */
export interface MethodArgs {
  'chat.postMessage': { channel: string; text?: string; blocks?: Block[]; thread_ts?: string } & Obj;
  'chat.update': { channel: string; ts: string; text?: string; blocks?: Block[] } & Obj;
  'chat.postEphemeral': { channel: string; user: string; text?: string; blocks?: Block[] } & Obj;
  'views.open': { trigger_id: string; view: Omit<View, 'id' | 'hash'> } & Obj;
  'views.push': { trigger_id: string; view: Omit<View, 'id' | 'hash'> } & Obj;
  'views.update': {
    view_id?: string;
    external_id?: string;
    hash?: string;
    view: Omit<View, 'id' | 'hash'>;
  } & Obj;
  'views.publish': { user_id: string; hash?: string; view: Omit<View, 'id' | 'hash'> } & Obj;
  'users.info': { user: string } & Obj;
  'usergroups.users.list': { usergroup: string } & Obj;
  'conversations.open': { users?: string; channel?: string } & Obj;
  /** What Bolt's respond() posted to a payload's response_url. */
  response_url: { text?: string; blocks?: Block[]; replace_original?: boolean; response_type?: string } & Obj;
}

export type ArgsOf<M extends string> = M extends keyof MethodArgs ? MethodArgs[M] : Obj;

export interface SlackCall<M extends string = string> {
  method: M;
  args: ArgsOf<M>;
  /** Which token authorized the call (never the token itself). */
  auth: 'bot' | 'app' | 'none' | 'invalid';
  at: Date;
  /** What the fake answered, e.g. `{ ok: false, error: 'invalid_blocks', ... }`. */
  response: Obj;
  /** A post to a response_url: whose interaction (user, channel) the URL came with. */
  responseTo?: { channel: string; user: string };
}

/** A message as it stands after any chat.update. */
export interface StoredMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: Block[];
  thread_ts?: string;
  user: string;
  bot_id: string;
  /** Earlier versions, oldest first. */
  history: Array<{ text?: string; blocks?: Block[] }>;
  /** Files shared with the message (files.completeUploadExternal). */
  files?: Array<{ id: string; title: string }>;
}

/** A file uploaded through files.getUploadURLExternal → upload URL → files.completeUploadExternal. */
export interface StoredFile {
  id: string;
  filename: string;
  /** The length files.getUploadURLExternal was told. */
  length: number;
  bytes?: Buffer;
  title?: string;
  channel?: string;
}
