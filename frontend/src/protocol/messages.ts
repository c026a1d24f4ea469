// Every wire shape is generated in ./events from backend/sockscope/contract (`make types`);
// these are the names modules still import from here, re-exported until they import ./events.
export type {
  BlockedCallInfo,
  Command,
  CommandAnswer,
  ErrorDetail as CommandError,
  FlowState,
  Gap,
  LabSnapshot,
  LinkState,
  NetworkState,
  ServerMessage,
  SocketSnapshot,
} from "./events";
