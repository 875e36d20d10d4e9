/** New-conversation state; the UI is ChatWorkspace in the layout. */
export default function NewChatPage() {
  return null;
}
