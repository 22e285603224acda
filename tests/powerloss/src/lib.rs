//! A FUSE file system for tests that loses power the way LazyFS does
//! (issue 19): it keeps what was made durable apart from what a process
//! sees, and a power cut drops everything not made durable.
//!
//! Durability, strictly as POSIX promises it and no more:
//!
//! - a file's data is durable as of its last `fsync`; data written since
//!   is lost (a file never fsynced comes back empty);
//! - a directory's entries (creates, renames, links, unlinks, in both the
//!   old and the new directory of a rename) are durable as of the last
//!   `fsync` of that directory; a newer entry is lost, an older one comes
//!   back.
//!
//! The cut comes after the Nth counted operation (write, truncate,
//! create, mkdir, link, unlink, rmdir, rename, fsync, fsync of a
//! directory): that operation and every later one fail with `EIO`, as a
//! dead machine answers no more, until [`Mount::power_cycle`] rebuilds the
//! tree from its durable part and mounts it again. Everything lives in
//! memory; file data is served with direct I/O and zero cache times, so
//! the kernel keeps no copy of its own.
//!
//! Mounting needs `/dev/fuse` and `fusermount3` (Debian `fuse3`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

const ROOT: u64 = 1;
/// No caching in the kernel: every lookup and attribute comes from here.
const TTL: Duration = Duration::ZERO;

#[derive(Clone)]
enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<OsString, u64>),
}

#[derive(Clone)]
struct Node {
    kind: Kind,
    perm: u16,
    uid: u32,
    gid: u32,
}

/// The whole file system: the tree a process sees and its durable part.
#[derive(Default)]
struct State {
    /// Every node ever made (nodes are never freed: an unlinked file may
    /// still be durable in a directory that was not fsynced since).
    nodes: HashMap<u64, Node>,
    /// File data as of the file's last fsync.
    durable_data: HashMap<u64, Vec<u8>>,
    /// Directory entries as of the directory's last fsync.
    durable_dirs: HashMap<u64, BTreeMap<OsString, u64>>,
    next_ino: u64,
    /// Counted operations so far.
    ops: u64,
    /// Power is cut after this many counted operations.
    cut_after: Option<u64>,
    /// The power is out: everything fails.
    dead: bool,
    /// The counted operations, in order.
    log: Vec<&'static str>,
}

impl State {
    fn new() -> State {
        let mut s = State {
            next_ino: ROOT + 1,
            ..State::default()
        };
        let root = Node {
            kind: Kind::Dir(BTreeMap::new()),
            perm: 0o755,
            uid: rustix_uid(),
            gid: 0,
        };
        s.nodes.insert(ROOT, root);
        s.durable_dirs.insert(ROOT, BTreeMap::new());
        s
    }

    /// One counted operation; `EIO` from the cut on.
    fn tick(&mut self, op: &'static str) -> Result<(), Errno> {
        if self.dead {
            return Err(Errno::EIO);
        }
        self.ops += 1;
        self.log.push(op);
        if self.cut_after.is_some_and(|n| self.ops > n) {
            self.dead = true;
            return Err(Errno::EIO);
        }
        Ok(())
    }

    fn alive(&self) -> Result<(), Errno> {
        if self.dead {
            Err(Errno::EIO)
        } else {
            Ok(())
        }
    }

    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match &self.node(ino)?.kind {
            Kind::Dir(entries) => Ok(entries),
            Kind::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.kind {
            Kind::Dir(entries) => Ok(entries),
            Kind::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn data_mut(&mut self, ino: u64) -> Result<&mut Vec<u8>, Errno> {
        match &mut self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?.kind {
            Kind::File(data) => Ok(data),
            Kind::Dir(_) => Err(Errno::EISDIR),
        }
    }

    /// Links to `ino` from the live tree.
    fn nlink(&self, ino: u64) -> u32 {
        let links = self
            .nodes
            .values()
            .filter_map(|n| match &n.kind {
                Kind::Dir(entries) => Some(entries.values().filter(|&&i| i == ino).count()),
                Kind::File(_) => None,
            })
            .sum::<usize>();
        links.max(1) as u32
    }

    fn attr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let node = self.node(ino)?;
        let (kind, size) = match &node.kind {
            Kind::File(data) => (FileType::RegularFile, data.len() as u64),
            Kind::Dir(_) => (FileType::Directory, 0),
        };
        let epoch = SystemTime::UNIX_EPOCH;
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: epoch,
            mtime: epoch,
            ctime: epoch,
            crtime: epoch,
            kind,
            perm: node.perm,
            nlink: self.nlink(ino),
            uid: node.uid,
            gid: node.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn add(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: Kind,
        req: &Request,
        mode: u32,
    ) -> Result<u64, Errno> {
        if self.dir(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        self.tick(match kind {
            Kind::Dir(_) => "mkdir",
            Kind::File(_) => "create",
        })?;
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                kind,
                perm: (mode & 0o7777) as u16,
                uid: req.uid(),
                gid: req.gid(),
            },
        );
        self.dir_mut(parent)?.insert(name.to_owned(), ino);
        Ok(ino)
    }

    /// The tree after a power cut: the durable entries from the root
    /// down, each file with its durable data; all of it durable.
    fn after_power_cut(&self) -> State {
        let mut out = State {
            next_ino: self.next_ino,
            ..State::default()
        };
        let mut todo = vec![ROOT];
        while let Some(ino) = todo.pop() {
            if out.nodes.contains_key(&ino) {
                continue;
            }
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            let kind = match &node.kind {
                Kind::Dir(_) => {
                    let entries = self.durable_dirs.get(&ino).cloned().unwrap_or_default();
                    todo.extend(entries.values().copied());
                    out.durable_dirs.insert(ino, entries.clone());
                    Kind::Dir(entries)
                }
                Kind::File(_) => {
                    let data = self.durable_data.get(&ino).cloned().unwrap_or_default();
                    out.durable_data.insert(ino, data.clone());
                    Kind::File(data)
                }
            };
            out.nodes.insert(
                ino,
                Node {
                    kind,
                    ..node.clone()
                },
            );
        }
        out
    }

    /// Makes everything durable (a fully synced starting point).
    fn sync_everything(&mut self) {
        for (&ino, node) in &self.nodes {
            match &node.kind {
                Kind::Dir(entries) => {
                    self.durable_dirs.insert(ino, entries.clone());
                }
                Kind::File(data) => {
                    self.durable_data.insert(ino, data.clone());
                }
            }
        }
    }
}

fn rustix_uid() -> u32 {
    // The owner of the mount point's root: whoever mounts it (root here).
    std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    })
}

/// The FUSE side: every request works on the shared [`State`].
struct PowerLossFs {
    state: Arc<Mutex<State>>,
}

impl PowerLossFs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn empty(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

fn entry(reply: ReplyEntry, result: Result<FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for PowerLossFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let s = self.lock();
        let result = s.alive().and_then(|()| {
            let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            s.attr(ino)
        });
        entry(reply, result);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let s = self.lock();
        match s.alive().and_then(|()| s.attr(ino.0)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut s = self.lock();
        let result = (|| {
            s.alive()?;
            if let Some(size) = size {
                s.tick("truncate")?;
                s.data_mut(ino.0)?.resize(size as usize, 0);
            }
            let node = s.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            if let Some(mode) = mode {
                node.perm = (mode & 0o7777) as u16;
            }
            if let Some(uid) = uid {
                node.uid = uid;
            }
            if let Some(gid) = gid {
                node.gid = gid;
            }
            s.attr(ino.0)
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut s = self.lock();
        let result = s
            .add(
                parent.0,
                name,
                Kind::Dir(BTreeMap::new()),
                req,
                mode & !umask,
            )
            .and_then(|ino| s.attr(ino));
        entry(reply, result);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut s = self.lock();
        let result = s
            .add(parent.0, name, Kind::File(Vec::new()), req, mode & !umask)
            .and_then(|ino| s.attr(ino));
        match result {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut s = self.lock();
        let result = (|| {
            let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            if matches!(s.node(ino)?.kind, Kind::Dir(_)) {
                return Err(Errno::EISDIR);
            }
            s.tick("unlink")?;
            s.dir_mut(parent.0)?.remove(name);
            Ok(())
        })();
        empty(reply, result);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut s = self.lock();
        let result = (|| {
            let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            if !s.dir(ino)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            s.tick("rmdir")?;
            s.dir_mut(parent.0)?.remove(name);
            Ok(())
        })();
        empty(reply, result);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        let result = (|| {
            if !flags.is_empty() {
                return Err(Errno::EINVAL);
            }
            let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            if let Some(&target) = s.dir(newparent.0)?.get(newname) {
                if let Kind::Dir(entries) = &s.node(target)?.kind {
                    if !entries.is_empty() {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
            }
            s.tick("rename")?;
            s.dir_mut(parent.0)?.remove(name);
            s.dir_mut(newparent.0)?.insert(newname.to_owned(), ino);
            Ok(())
        })();
        empty(reply, result);
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut s = self.lock();
        let result = (|| {
            if matches!(s.node(ino.0)?.kind, Kind::Dir(_)) {
                return Err(Errno::EPERM);
            }
            if s.dir(newparent.0)?.contains_key(newname) {
                return Err(Errno::EEXIST);
            }
            s.tick("link")?;
            s.dir_mut(newparent.0)?.insert(newname.to_owned(), ino.0);
            s.attr(ino.0)
        })();
        entry(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let s = self.lock();
        match s.alive().and_then(|()| s.node(ino.0).map(drop)) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let s = self.lock();
        let result = s.alive().and_then(|()| match &s.node(ino.0)?.kind {
            Kind::File(data) => {
                let start = (offset as usize).min(data.len());
                let end = start.saturating_add(size as usize).min(data.len());
                Ok(data[start..end].to_vec())
            }
            Kind::Dir(_) => Err(Errno::EISDIR),
        });
        match result {
            Ok(bytes) => reply.data(&bytes),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut s = self.lock();
        let result = (|| {
            s.tick("write")?;
            let file = s.data_mut(ino.0)?;
            let at = if flags.0 & libc_o_append() != 0 {
                file.len()
            } else {
                offset as usize
            };
            if file.len() < at + data.len() {
                file.resize(at + data.len(), 0);
            }
            file[at..at + data.len()].copy_from_slice(data);
            Ok(data.len() as u32)
        })();
        match result {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        let result = (|| {
            s.tick("fsync")?;
            if let Kind::File(data) = &s.node(ino.0)?.kind {
                let data = data.clone();
                s.durable_data.insert(ino.0, data);
            }
            Ok(())
        })();
        empty(reply, result);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let s = self.lock();
        let entries = match s.alive().and_then(|()| s.dir(ino.0)) {
            Ok(entries) => entries,
            Err(e) => return reply.error(e),
        };
        let mut all: Vec<(u64, FileType, OsString)> = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        for (name, &child) in entries {
            let kind = match s.nodes.get(&child).map(|n| &n.kind) {
                Some(Kind::Dir(_)) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            all.push((child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        let result = (|| {
            s.tick("fsyncdir")?;
            let entries = s.dir(ino.0)?.clone();
            s.durable_dirs.insert(ino.0, entries);
            Ok(())
        })();
        empty(reply, result);
    }
}

fn libc_o_append() -> i32 {
    0o2000
}

/// A mounted power-loss file system, unmounted on drop.
pub struct Mount {
    at: PathBuf,
    state: Arc<Mutex<State>>,
    session: Option<BackgroundSession>,
}

impl Mount {
    /// Mounts an empty file system at `at` (an existing empty directory).
    pub fn new(at: &Path) -> io::Result<Mount> {
        let mut m = Mount {
            at: at.to_owned(),
            state: Arc::new(Mutex::new(State::new())),
            session: None,
        };
        m.mount()?;
        Ok(m)
    }

    fn mount(&mut self) -> io::Result<()> {
        let mut config = Config::default();
        config.mount_options = vec![MountOption::FSName("credvault-powerloss".into())];
        let fs = PowerLossFs {
            state: Arc::clone(&self.state),
        };
        self.session = Some(fuser::spawn_mount(fs, &self.at, &config)?);
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.at
    }

    /// Makes everything written so far durable (the starting point of a
    /// test), and resets the operation count.
    pub fn sync_everything(&self) {
        let mut s = self.state();
        s.sync_everything();
        s.ops = 0;
        s.log.clear();
    }

    /// Cuts the power after `n` more counted operations (`None`: never).
    pub fn cut_after(&self, n: Option<u64>) {
        let mut s = self.state();
        s.ops = 0;
        s.log.clear();
        s.cut_after = n;
    }

    /// Counted operations since the last [`Mount::cut_after`] or
    /// [`Mount::sync_everything`].
    pub fn ops(&self) -> u64 {
        self.state().ops
    }

    /// The counted operations since then, in order: `create`, `mkdir`,
    /// `write`, `truncate`, `link`, `unlink`, `rmdir`, `rename`, `fsync`,
    /// `fsyncdir`.
    pub fn log(&self) -> Vec<&'static str> {
        self.state().log.clone()
    }

    /// Whether the power was cut.
    pub fn cut(&self) -> bool {
        self.state().dead
    }

    /// The power cut and the reboot: unmounts, keeps only what was
    /// durable, and mounts that again (powered, no cut planned).
    pub fn power_cycle(&mut self) -> io::Result<()> {
        if let Some(session) = self.session.take() {
            session.umount_and_join()?;
        }
        {
            let mut s = self.state();
            let mut after = s.after_power_cut();
            after.ops = 0;
            *s = after;
        }
        self.mount()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}
