/** Message headers the system writes on every event, besides Nats-Msg-Id and trace context. */
export const EVENT_TYPE_HEADER = 'Hw-Event-Type';
export const OCCURRED_AT_HEADER = 'Hw-Occurred-At';
/**
 * The message's identity for the consumers' inbox when it is not the Nats-Msg-Id: set on a
 * dead letter and on its replay, so a replayed event keeps the producer's id (the inbox
 * still dedupes it everywhere it was applied) while its Nats-Msg-Id is new (JetStream's
 * duplicate window would otherwise drop a replay made within two minutes).
 */
export const MESSAGE_ID_HEADER = 'Hw-Message-Id';
/** On a replayed event: the dead-letter stream sequence it was replayed from. */
export const REPLAY_OF_HEADER = 'Hw-Replay-Of';

/** Added when a message is moved to the dead-letter stream. */
export const DLQ_REASON_HEADER = 'Hw-Dlq-Reason';
export const DLQ_ERROR_HEADER = 'Hw-Dlq-Error';
export const DLQ_CONSUMER_HEADER = 'Hw-Dlq-Consumer';
export const DLQ_DELIVERIES_HEADER = 'Hw-Dlq-Deliveries';
/** How many times the handler itself failed on it (infrastructure outages never count). */
export const DLQ_FAILURES_HEADER = 'Hw-Dlq-Handler-Failures';
export const DLQ_ORIGINAL_SUBJECT_HEADER = 'Hw-Dlq-Subject';
/**
 * The dead-lettered event's sequence in the event stream. Replay republishes the event
 * stored there — written by its producer — never the letter's own bytes, which the
 * dead-lettering service wrote (see DeadLetterArchive).
 */
export const DLQ_EVENT_SEQUENCE_HEADER = 'Hw-Dlq-Event-Sequence';
