/** One conversation; the UI is ChatWorkspace in the layout, which reads the id from the URL. */
export default function ConversationPage() {
  return null;
}
