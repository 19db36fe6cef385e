/**
 * intermezzo_idl.ts: presto's interface to user space, in one place (Linux
 * include/linux/intermezzo_idl.h and intermezzo_psdev.h: what lento was compiled against).
 *
 * Layer: fs (presto), the boundary. Interface: the ioctl numbers and their argument record; the
 * fileset, cache and dentry flags MARK sets; REINTKML's flags and outcomes; the upcall numbers,
 * the upcall header's and reply's codecs and the OPEN/BACKFETCH file id; the device numbers of
 * /dev/intermezzo; the name that opens a file by inode and generation. User space (src/lento/)
 * imports presto only from here and from kml.ts (the record format), and reaches the kernel only
 * through system calls: the tidy test holds it to that. Nothing is defined here: each name keeps
 * its home in the module that implements it.
 * Invariants: everything exported is a constant, a type, or a pure function of its arguments.
 */
export {
  IZO_IOC_ADJUST_LML, IZO_IOC_CLEAR_FSET, IZO_IOC_CONNECT, IZO_IOC_GET_FILEID, IZO_IOC_GET_KML_SIZE,
  IZO_IOC_GET_RCVD, IZO_IOC_GO_FETCH_KML, IZO_IOC_MARK, IZO_IOC_REINTKML, IZO_IOC_REPSTATUS,
  IZO_IOC_REVOKE_PERMIT, IZO_IOC_SET_CHANNEL, IZO_IOC_SET_FILEID, IZO_IOC_SET_FSET, IZO_IOC_SET_KMLSIZE,
  IZO_IOC_SET_PID, type IzoIoctlData,
} from './ioctl.ts';
export {
  FSET_CLIENT_RO, FSET_DATA_ON_DEMAND, FSET_HASPERMIT, FSET_INSYNC, FSET_JCLOSE_ON_WRITE, FSET_LENTO_RO,
  FSET_PERMIT_WAITING, FSET_STEAL_PERMIT,
} from './permit.ts';
export {
  CACHE_CLIENT_RO, CACHE_LENTO_RO, IZO_DIR, MARK_CACHE, MARK_DENTRY, MARK_FSET, MARK_GETFL, PRESTO_ATTR,
  PRESTO_DATA, PRESTO_DONT_JOURNAL,
} from './intermezzo_fs.ts';
export {
  REINT_FORCE, REINT_MERGE, REINT_OVERRIDE, REINT_RELOG, type ConflictClass, type ReintResult,
} from './kml_reint.ts';
export {
  decodeUpcall, encodeReply, FILEID_SIZE, INTERMEZZO_MINOR, izo_fileid_decode, izo_fileid_encode, IZO_UPC_BACKFETCH,
  IZO_UPC_CONNECT, IZO_UPC_GET_FILEID, IZO_UPC_GO_FETCH_KML, IZO_UPC_KML, IZO_UPC_KML_TRUNC, IZO_UPC_OPEN,
  IZO_UPC_PERMIT, IZO_UPC_REPSTATUS, IZO_UPC_REVOKE_PERMIT, MAX_CHANNELS, MISC_MAJOR, UPCALL_HDR_SIZE, UPCALL_NAMES,
  UPCALL_RESP_SIZE, type FileId, type Upcall,
} from './psdev.ts';
export { PRESTO_ILOOKUP_MAGIC, presto_ilookup_name } from './dir.ts';
