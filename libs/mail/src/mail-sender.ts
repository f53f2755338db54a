/** One message to one person; the sender is configured once, not per message. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/**
 * What services depend on. An abstract class rather than an interface so that NestJS can
 * inject it by class token; tests and `npm start` give it a sender pointed at the local sink.
 */
export abstract class MailSender {
  abstract send(mail: OutgoingMail): Promise<void>;
}
