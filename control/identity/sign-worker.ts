/** The piscina worker: signs leaves off the control plane's event loop. */
import { issueLeaf, type IssueTask, type IssueResult } from './issue';

function sign(task: IssueTask): Promise<IssueResult> {
  return issueLeaf(task);
}

export = sign;
