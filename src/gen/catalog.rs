//! Static content of the background telemetry: event types, host roles, process trees, file
//! writes, registry values, DNS names, ports. Windows paths are written without the
//! `\Device\HarddiskVolumeN` prefix (added per host); Linux paths are full POSIX paths.
//!
//! Templates may hold placeholders `$X$` expanded per event (see `events::Gen::expand`):
//! `$G$` GUID (upper), `$g$` GUID (lower), `$Q$` the host's interface GUID, `$H$` 8 hex digits,
//! `$X$` 32 upper hex digits, `$N$` 1–9999, `$n$` 0–9, `$P$` a process id, `$U$` the host's
//! user, `$S$` that user's SID, `$D$` a date (yyyymmdd), `$E$` epoch seconds, `$R$` a word,
//! `$T$` an 8.3 random name, `$I$` the host's address, `$Y$` a Windows service, `$0$` NUL.
//!
//! Nothing here matches the seed's three signals: the planted events (`planted.rs`) are the
//! only ones that do, which keeps the seed's group count bounded.

/// Event types generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ev {
    ProcessRollup2,
    SyntheticProcessRollup2,
    ProcessRollup2Stats,
    EndOfProcess,
    TerminateProcess,
    NewExecutableWritten,
    NewScriptWritten,
    PeFileWritten,
    WebScriptFileWritten,
    DirectoryCreate,
    RegGenericValueUpdate,
    RegKeyCreate,
    RegGenericKeyUpdate,
    RegSystemConfigValueUpdate,
    AsepValueUpdate,
    AsepKeyUpdate,
    DnsRequest,
    NetworkConnectIP4,
    NetworkListenIP4,
    ImageHash,
    ClassifiedModuleLoad,
    UserLogon,
    CriticalFileAccessed,
    SensorHeartbeat,
}

/// Number of `Ev` variants.
pub(crate) const EV_COUNT: usize = 24;

impl Ev {
    pub(crate) const ALL: [Ev; EV_COUNT] = [
        Ev::ProcessRollup2,
        Ev::SyntheticProcessRollup2,
        Ev::ProcessRollup2Stats,
        Ev::EndOfProcess,
        Ev::TerminateProcess,
        Ev::NewExecutableWritten,
        Ev::NewScriptWritten,
        Ev::PeFileWritten,
        Ev::WebScriptFileWritten,
        Ev::DirectoryCreate,
        Ev::RegGenericValueUpdate,
        Ev::RegKeyCreate,
        Ev::RegGenericKeyUpdate,
        Ev::RegSystemConfigValueUpdate,
        Ev::AsepValueUpdate,
        Ev::AsepKeyUpdate,
        Ev::DnsRequest,
        Ev::NetworkConnectIP4,
        Ev::NetworkListenIP4,
        Ev::ImageHash,
        Ev::ClassifiedModuleLoad,
        Ev::UserLogon,
        Ev::CriticalFileAccessed,
        Ev::SensorHeartbeat,
    ];

    /// `event_simpleName`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ev::ProcessRollup2 => "ProcessRollup2",
            Ev::SyntheticProcessRollup2 => "SyntheticProcessRollup2",
            Ev::ProcessRollup2Stats => "ProcessRollup2Stats",
            Ev::EndOfProcess => "EndOfProcess",
            Ev::TerminateProcess => "TerminateProcess",
            Ev::NewExecutableWritten => "NewExecutableWritten",
            Ev::NewScriptWritten => "NewScriptWritten",
            Ev::PeFileWritten => "PeFileWritten",
            Ev::WebScriptFileWritten => "WebScriptFileWritten",
            Ev::DirectoryCreate => "DirectoryCreate",
            Ev::RegGenericValueUpdate => "RegGenericValueUpdate",
            Ev::RegKeyCreate => "RegKeyCreate",
            Ev::RegGenericKeyUpdate => "RegGenericKeyUpdate",
            Ev::RegSystemConfigValueUpdate => "RegSystemConfigValueUpdate",
            Ev::AsepValueUpdate => "AsepValueUpdate",
            Ev::AsepKeyUpdate => "AsepKeyUpdate",
            Ev::DnsRequest => "DnsRequest",
            Ev::NetworkConnectIP4 => "NetworkConnectIP4",
            Ev::NetworkListenIP4 => "NetworkListenIP4",
            Ev::ImageHash => "ImageHash",
            Ev::ClassifiedModuleLoad => "ClassifiedModuleLoad",
            Ev::UserLogon => "UserLogon",
            Ev::CriticalFileAccessed => "CriticalFileAccessed",
            Ev::SensorHeartbeat => "SensorHeartbeat",
        }
    }

    /// The schema `name` field (event + platform + version). Versions are plausible, not
    /// verified (telemetry.md: only `ProcessRollup2LinV12`, `ProcessRollup2LinV6`,
    /// `NewScriptWrittenMacV2` were seen un-hashed).
    pub(crate) fn schema(self, lin: bool) -> &'static str {
        if lin {
            match self {
                Ev::ProcessRollup2 => "ProcessRollup2LinV12",
                Ev::SyntheticProcessRollup2 => "SyntheticProcessRollup2LinV7",
                Ev::ProcessRollup2Stats => "ProcessRollup2StatsLinV3",
                Ev::TerminateProcess => "TerminateProcessLinV4",
                Ev::NewExecutableWritten => "NewExecutableWrittenLinV3",
                Ev::NewScriptWritten => "NewScriptWrittenLinV3",
                Ev::PeFileWritten => "PeFileWrittenLinV2",
                Ev::DirectoryCreate => "DirectoryCreateLinV2",
                Ev::DnsRequest => "DnsRequestLinV2",
                Ev::NetworkConnectIP4 => "NetworkConnectIP4LinV5",
                Ev::NetworkListenIP4 => "NetworkListenIP4LinV5",
                Ev::CriticalFileAccessed => "CriticalFileAccessedLinV2",
                Ev::SensorHeartbeat => "SensorHeartbeatLinV4",
                _ => "UnknownLinV1",
            }
        } else {
            match self {
                Ev::ProcessRollup2 => "ProcessRollup2V19",
                Ev::SyntheticProcessRollup2 => "SyntheticProcessRollup2V9",
                Ev::EndOfProcess => "EndOfProcessV17",
                Ev::NewExecutableWritten => "NewExecutableWrittenV11",
                Ev::NewScriptWritten => "NewScriptWrittenV8",
                Ev::PeFileWritten => "PeFileWrittenV13",
                Ev::WebScriptFileWritten => "WebScriptFileWrittenV2",
                Ev::DirectoryCreate => "DirectoryCreateV5",
                Ev::RegGenericValueUpdate => "RegGenericValueUpdateV6",
                Ev::RegKeyCreate => "RegKeyCreateV1",
                Ev::RegGenericKeyUpdate => "RegGenericKeyUpdateV4",
                Ev::RegSystemConfigValueUpdate => "RegSystemConfigValueUpdateV5",
                Ev::AsepValueUpdate => "AsepValueUpdateV5",
                Ev::AsepKeyUpdate => "AsepKeyUpdateV4",
                Ev::DnsRequest => "DnsRequestV6",
                Ev::NetworkConnectIP4 => "NetworkConnectIP4V5",
                Ev::NetworkListenIP4 => "NetworkListenIP4V5",
                Ev::ImageHash => "ImageHashV5",
                Ev::ClassifiedModuleLoad => "ClassifiedModuleLoadV4",
                Ev::UserLogon => "UserLogonV10",
                Ev::SensorHeartbeat => "SensorHeartbeatV5",
                _ => "UnknownV1",
            }
        }
    }
}

/// Background event mix per platform, in parts per 10,000. The six event names the seed reads
/// (ProcessRollup2, NewExecutableWritten, NewScriptWritten, PeFileWritten,
/// RegGenericValueUpdate, RegKeyCreate) make up 55% on each platform.
pub(crate) const WIN_MIX: &[(Ev, u32)] = &[
    (Ev::ProcessRollup2, 1500),
    (Ev::NewExecutableWritten, 300),
    (Ev::NewScriptWritten, 350),
    (Ev::PeFileWritten, 300),
    (Ev::RegGenericValueUpdate, 3046),
    (Ev::RegKeyCreate, 4),
    (Ev::DnsRequest, 1000),
    (Ev::NetworkConnectIP4, 900),
    (Ev::NetworkListenIP4, 80),
    (Ev::EndOfProcess, 900),
    (Ev::SyntheticProcessRollup2, 40),
    (Ev::ImageHash, 350),
    (Ev::ClassifiedModuleLoad, 250),
    (Ev::UserLogon, 30),
    (Ev::AsepValueUpdate, 60),
    (Ev::AsepKeyUpdate, 40),
    (Ev::RegGenericKeyUpdate, 400),
    (Ev::RegSystemConfigValueUpdate, 100),
    (Ev::DirectoryCreate, 150),
    (Ev::SensorHeartbeat, 200),
];

/// Linux mix (no registry; `TerminateProcess` ends processes; `ProcessRollup2Stats`).
pub(crate) const LIN_MIX: &[(Ev, u32)] = &[
    (Ev::ProcessRollup2, 3300),
    (Ev::NewExecutableWritten, 700),
    (Ev::NewScriptWritten, 1400),
    (Ev::PeFileWritten, 100),
    (Ev::DnsRequest, 1000),
    (Ev::NetworkConnectIP4, 1100),
    (Ev::NetworkListenIP4, 100),
    (Ev::TerminateProcess, 1250),
    (Ev::SyntheticProcessRollup2, 50),
    (Ev::ProcessRollup2Stats, 450),
    (Ev::CriticalFileAccessed, 150),
    (Ev::DirectoryCreate, 200),
    (Ev::SensorHeartbeat, 200),
];

/// Host roles (bit set). A template applies to a host when their role sets intersect.
pub(crate) mod role {
    pub(crate) const WIN: u32 = 1;
    pub(crate) const WKS: u32 = 1 << 1;
    pub(crate) const DEV: u32 = 1 << 2;
    pub(crate) const SRV: u32 = 1 << 3;
    pub(crate) const IIS: u32 = 1 << 4;
    pub(crate) const SQL: u32 = 1 << 5;
    pub(crate) const EXCH: u32 = 1 << 6;
    pub(crate) const TC: u32 = 1 << 7;
    pub(crate) const DC: u32 = 1 << 8;
    pub(crate) const FS: u32 = 1 << 9;
    pub(crate) const LIN: u32 = 1 << 16;
    pub(crate) const APACHE: u32 = 1 << 17;
    pub(crate) const NGINX: u32 = 1 << 18;
    pub(crate) const LTC: u32 = 1 << 19;
    pub(crate) const DB: u32 = 1 << 20;
    pub(crate) const LAPP: u32 = 1 << 21;
    pub(crate) const K8S: u32 = 1 << 22;
}
use role::*;

/// Who a process runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum User {
    System,
    LocalSvc,
    NetSvc,
    Interactive,
    AppPool,
    Sql,
    Root,
    WwwData,
    Tomcat,
    Postgres,
    Deploy,
}

impl User {
    /// Windows (UserName, UserSid) for non-interactive accounts; Linux (UserName, UID).
    pub(crate) fn fixed(self) -> (&'static str, &'static str) {
        match self {
            User::System => ("SYSTEM", "S-1-5-18"),
            User::LocalSvc => ("LOCAL SERVICE", "S-1-5-19"),
            User::NetSvc => ("NETWORK SERVICE", "S-1-5-20"),
            User::AppPool => ("DefaultAppPool", "S-1-5-82-3006700770-424185619-1745488364-794895919-4004696415"),
            User::Sql => ("MSSQLSERVER", "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"),
            User::Root => ("root", "0"),
            User::WwwData => ("www-data", "33"),
            User::Tomcat => ("tomcat", "997"),
            User::Postgres => ("postgres", "114"),
            User::Deploy => ("deploy", "1001"),
            User::Interactive => ("ubuntu", "1000"),
        }
    }
}

/// Anything chosen per host by role and weight.
pub(crate) trait Tpl {
    fn roles(&self) -> u32;
    fn weight(&self) -> u32;
}

macro_rules! tpl {
    ($t:ty) => {
        impl Tpl for $t {
            fn roles(&self) -> u32 {
                self.roles
            }
            fn weight(&self) -> u32 {
                self.w
            }
        }
    };
}

/// A process start: `parent` (base name) starts `image` with one of `cmds`.
#[derive(Debug)]
pub(crate) struct Spawn {
    pub roles: u32,
    pub w: u32,
    pub parent: &'static str,
    pub image: &'static str,
    pub cmds: &'static [&'static str],
    pub user: User,
}
tpl!(Spawn);

const fn sp(
    roles: u32,
    w: u32,
    parent: &'static str,
    image: &'static str,
    cmds: &'static [&'static str],
    user: User,
) -> Spawn {
    Spawn { roles, w, parent, image, cmds, user }
}

pub(crate) const CMD: &str = r"\Windows\System32\cmd.exe";
pub(crate) const PS: &str = r"\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
pub(crate) const W3WP: &str = r"\Windows\System32\inetsrv\w3wp.exe";
const SVCHOST: &str = r"\Windows\System32\svchost.exe";
const CONHOST: &str = r"\Windows\System32\conhost.exe";
const CHROME: &str = r"\Program Files\Google\Chrome\Application\chrome.exe";
const MSEDGE: &str = r"\Program Files (x86)\Microsoft\Edge\Application\msedge.exe";
const CSC: &str = r"\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe";
pub(crate) const SQLSERVR: &str = r"\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe";
pub(crate) const TOMCAT9: &str = r"\Program Files\Apache Software Foundation\Tomcat 9.0\bin\Tomcat9.exe";
pub(crate) const HTTPD_WIN: &str = r"\xampp\apache\bin\httpd.exe";
pub(crate) const JAVA_WIN: &str = r"\Program Files\Eclipse Adoptium\jdk-17.0.11.9-hotspot\bin\java.exe";
const CONHOST_CMDS: &[&str] = &[r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"];

/// Windows process starts.
pub(crate) const WIN_SPAWNS: &[Spawn] = &[
    sp(
        WIN,
        30,
        "services.exe",
        SVCHOST,
        &[
            r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
            r"C:\Windows\system32\svchost.exe -k netsvcs -p -s gpsvc",
            r"C:\Windows\system32\svchost.exe -k LocalServiceNetworkRestricted -p -s Dhcp",
            r"C:\Windows\system32\svchost.exe -k NetworkService -p -s Dnscache",
            r"C:\Windows\System32\svchost.exe -k LocalSystemNetworkRestricted -p -s SysMain",
            r"C:\Windows\system32\svchost.exe -k wusvcs -p -s WaaSMedicSvc",
            r"C:\Windows\system32\svchost.exe -k netsvcs -p -s BITS",
            r"C:\Windows\System32\svchost.exe -k LocalServiceNoNetwork -p",
        ],
        User::System,
    ),
    sp(
        WIN,
        14,
        "svchost.exe",
        r"\Windows\System32\wbem\WmiPrvSE.exe",
        &[
            r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
            r"C:\Windows\system32\wbem\wmiprvse.exe -Embedding",
        ],
        User::NetSvc,
    ),
    sp(
        WIN,
        10,
        "svchost.exe",
        r"\Windows\System32\dllhost.exe",
        &[r"C:\Windows\system32\DllHost.exe /Processid:{$G$}"],
        User::System,
    ),
    sp(
        WIN,
        8,
        "svchost.exe",
        r"\Windows\System32\taskhostw.exe",
        &[
            "taskhostw.exe",
            "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
            "taskhostw.exe SYSTEM",
        ],
        User::System,
    ),
    sp(WIN, 10, "cmd.exe", CONHOST, CONHOST_CMDS, User::System),
    sp(WIN, 5, "powershell.exe", CONHOST, CONHOST_CMDS, User::System),
    sp(
        WIN,
        5,
        "svchost.exe",
        r"\ProgramData\Microsoft\Windows Defender\Platform\4.18.25050.5-0\MpCmdRun.exe",
        &[
            r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.25050.5-0\MpCmdRun.exe" SignatureUpdate -ScheduleJob -RestrictPrivileges"#,
            r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.25050.5-0\MpCmdRun.exe" -wdenable"#,
        ],
        User::NetSvc,
    ),
    sp(
        WIN,
        3,
        "svchost.exe",
        r"\Windows\System32\CompatTelRunner.exe",
        &[r"C:\Windows\system32\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun"],
        User::System,
    ),
    sp(
        WIN,
        3,
        "svchost.exe",
        r"\Windows\System32\wermgr.exe",
        &[r"C:\Windows\system32\wermgr.exe -upload"],
        User::System,
    ),
    sp(
        WIN,
        2,
        "svchost.exe",
        r"\Windows\System32\WerFault.exe",
        &[r"C:\Windows\system32\WerFault.exe -u -p $P$ -s $N$"],
        User::System,
    ),
    sp(
        WIN,
        4,
        "svchost.exe",
        r"\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe",
        &[
            r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /ua /installsource scheduler"#,
            r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /c"#,
        ],
        User::System,
    ),
    sp(
        WIN,
        2,
        "services.exe",
        r"\Windows\System32\msiexec.exe",
        &[r"C:\Windows\system32\msiexec.exe /V"],
        User::System,
    ),
    sp(
        WIN,
        2,
        "msiexec.exe",
        r"\Windows\SysWOW64\msiexec.exe",
        &[r"C:\Windows\syswow64\MsiExec.exe -Embedding $X$ C"],
        User::System,
    ),
    sp(WIN, 2, "svchost.exe", r"\Windows\System32\sppsvc.exe", &[r"C:\Windows\system32\sppsvc.exe"], User::NetSvc),
    sp(
        WIN,
        1,
        "services.exe",
        r"\Windows\servicing\TrustedInstaller.exe",
        &[r"C:\Windows\servicing\TrustedInstaller.exe"],
        User::System,
    ),
    sp(
        WIN,
        1,
        "svchost.exe",
        r"\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.20348.3800_none_7e6b3e3d0f06b1a0\TiWorker.exe",
        &[
            r"C:\Windows\winsxs\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.20348.3800_none_7e6b3e3d0f06b1a0\TiWorker.exe -Embedding",
        ],
        User::System,
    ),
    sp(WIN, 2, "cmd.exe", r"\Windows\System32\net.exe", &["net  use", "net  time \\\\DC01 /set /y"], User::Interactive),
    sp(WIN, 1, "net.exe", r"\Windows\System32\net1.exe", &[r"C:\Windows\system32\net1  use"], User::Interactive),
    // Workstations.
    sp(
        WKS,
        6,
        "svchost.exe",
        r"\Windows\System32\RuntimeBroker.exe",
        &[r"C:\Windows\System32\RuntimeBroker.exe -Embedding"],
        User::Interactive,
    ),
    sp(
        WKS,
        4,
        "svchost.exe",
        r"\Windows\System32\backgroundTaskHost.exe",
        &[r#""C:\Windows\system32\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider"#],
        User::Interactive,
    ),
    sp(
        WKS,
        16,
        "chrome.exe",
        CHROME,
        &[
            r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --renderer-client-id=$N$ /prefetch:1"#,
            r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US /prefetch:8"#,
            r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=gpu-process --gpu-preferences=$H$$H$ /prefetch:2"#,
        ],
        User::Interactive,
    ),
    sp(
        WKS,
        3,
        "explorer.exe",
        CHROME,
        &[r#""C:\Program Files\Google\Chrome\Application\chrome.exe" "#],
        User::Interactive,
    ),
    sp(
        WKS,
        10,
        "msedge.exe",
        MSEDGE,
        &[
            r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --type=renderer --lang=en-US --renderer-client-id=$N$ /prefetch:1"#,
        ],
        User::Interactive,
    ),
    sp(
        WKS,
        2,
        "explorer.exe",
        r"\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
        &[r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" "#],
        User::Interactive,
    ),
    sp(
        WKS,
        2,
        "explorer.exe",
        r"\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
        &[r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\$U$\Documents\Q$n$ budget.xlsx""#],
        User::Interactive,
    ),
    sp(
        WKS,
        2,
        "explorer.exe",
        r"\Windows\System32\notepad.exe",
        &[r#""C:\Windows\system32\NOTEPAD.EXE" C:\Users\$U$\Desktop\notes.txt"#],
        User::Interactive,
    ),
    sp(WKS, 1, "explorer.exe", CMD, &[r#""C:\Windows\system32\cmd.exe" "#], User::Interactive),
    sp(
        WKS,
        1,
        "explorer.exe",
        PS,
        &[r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#],
        User::Interactive,
    ),
    sp(
        WKS,
        3,
        "explorer.exe",
        r"\Users\$U$\AppData\Local\Microsoft\OneDrive\OneDrive.exe",
        &[r#""C:\Users\$U$\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background"#],
        User::Interactive,
    ),
    sp(WKS, 1, "userinit.exe", r"\Windows\explorer.exe", &[r"C:\Windows\Explorer.EXE"], User::Interactive),
    // Developer workstation.
    sp(
        DEV,
        8,
        "Code.exe",
        r"\Users\$U$\AppData\Local\Programs\Microsoft VS Code\Code.exe",
        &[
            r#""C:\Users\$U$\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US"#,
        ],
        User::Interactive,
    ),
    sp(
        DEV,
        5,
        "Code.exe",
        r"\Program Files\Git\cmd\git.exe",
        &[
            "git.exe status -z -uall",
            "git.exe fetch",
            "git.exe rev-parse --show-toplevel",
            "git.exe log --format=%H -n 1",
        ],
        User::Interactive,
    ),
    sp(
        DEV,
        4,
        "Code.exe",
        r"\Program Files\nodejs\node.exe",
        &[
            r#""C:\Program Files\nodejs\node.exe" c:\Users\$U$\.vscode\extensions\ms-python.vscode-pylance-2025.6.2\dist\server.bundle.js --node-ipc --clientProcessId=$P$"#,
        ],
        User::Interactive,
    ),
    sp(
        DEV,
        2,
        "node.exe",
        r"\Program Files\nodejs\node.exe",
        &[r"node.exe C:\Users\$U$\source\repos\webapp\node_modules\vite\bin\vite.js build"],
        User::Interactive,
    ),
    sp(
        DEV,
        2,
        "cmd.exe",
        r"\Users\$U$\AppData\Local\Programs\Python\Python312\python.exe",
        &["python.exe -m pytest -q", "python  manage.py runserver 8000"],
        User::Interactive,
    ),
    // Servers.
    sp(
        SRV,
        2,
        "svchost.exe",
        PS,
        &[
            r"powershell.exe -ExecutionPolicy Bypass -NoProfile -File C:\ProgramData\Scripts\Get-Inventory.ps1",
            r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoLogo -NonInteractive -Command "Get-Service | Where-Object {$_.Status -eq 'Stopped'}""#,
        ],
        User::System,
    ),
    sp(
        SRV,
        2,
        "svchost.exe",
        CMD,
        &[r"C:\Windows\system32\cmd.exe /c C:\ProgramData\Scripts\cleanup_logs.bat"],
        User::System,
    ),
    // IIS.
    sp(
        IIS,
        3,
        "svchost.exe",
        W3WP,
        &[
            r#"c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll" -a \\.\pipe\iisipm$g$ -h "C:\inetpub\temp\apppools\DefaultAppPool\DefaultAppPool.config" -w "" -m 0"#,
        ],
        User::AppPool,
    ),
    sp(
        IIS,
        4,
        "w3wp.exe",
        CSC,
        &[
            r#""C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe" /noconfig /fullpaths @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\$H$\$H$\$T$.cmdline""#,
        ],
        User::AppPool,
    ),
    sp(
        IIS,
        3,
        "csc.exe",
        r"\Windows\Microsoft.NET\Framework64\v4.0.30319\cvtres.exe",
        &[
            r#"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\cvtres.exe /NOLOGO /READONLY /MACHINE:IX86 "/OUT:C:\Windows\TEMP\RES$H$.tmp""#,
        ],
        User::AppPool,
    ),
    sp(
        IIS,
        1,
        "cmd.exe",
        r"\Windows\System32\inetsrv\appcmd.exe",
        &[
            r"C:\Windows\system32\inetsrv\appcmd.exe list apppool /state:Started",
            r"C:\Windows\system32\inetsrv\appcmd.exe recycle apppool /apppool.name:DefaultAppPool",
        ],
        User::Interactive,
    ),
    sp(
        IIS,
        1,
        "cmd.exe",
        r"\Windows\System32\forfiles.exe",
        &[r#"forfiles /p C:\inetpub\logs\LogFiles /s /m *.log /d -30 /c "cmd /c del @path""#],
        User::System,
    ),
    // Exchange.
    sp(
        EXCH,
        4,
        "svchost.exe",
        W3WP,
        &[
            r#"c:\windows\system32\inetsrv\w3wp.exe -ap "MSExchangeOWAAppPool" -v "v4.0" -a \\.\pipe\iisipm$g$ -h "C:\inetpub\temp\apppools\MSExchangeOWAAppPool\MSExchangeOWAAppPool.config" -w "" -m 0"#,
            r#"c:\windows\system32\inetsrv\w3wp.exe -ap "MSExchangeECPAppPool" -v "v4.0" -a \\.\pipe\iisipm$g$ -h "C:\inetpub\temp\apppools\MSExchangeECPAppPool\MSExchangeECPAppPool.config" -w "" -m 0"#,
        ],
        User::System,
    ),
    sp(
        EXCH,
        3,
        "MSExchangeTransport.exe",
        r"\Program Files\Microsoft\Exchange Server\V15\Bin\EdgeTransport.exe",
        &[
            r#""C:\Program Files\Microsoft\Exchange Server\V15\Bin\EdgeTransport.exe" -pipe:$N$ -stopkey:Global\edgetransport<$g$>"#,
        ],
        User::NetSvc,
    ),
    sp(
        EXCH,
        2,
        "MSExchangeHMHost.exe",
        r"\Program Files\Microsoft\Exchange Server\V15\Bin\MSExchangeHMWorker.exe",
        &[r#""C:\Program Files\Microsoft\Exchange Server\V15\Bin\MSExchangeHMWorker.exe" -workerprocess"#],
        User::System,
    ),
    sp(
        EXCH,
        1,
        "MSExchangeHMWorker.exe",
        PS,
        &[
            r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NonInteractive -Command "Test-ServiceHealth""#,
        ],
        User::System,
    ),
    // SQL Server.
    sp(
        SQL,
        2,
        "services.exe",
        SQLSERVR,
        &[r#""C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe" -sMSSQLSERVER"#],
        User::Sql,
    ),
    sp(
        SQL,
        3,
        "SQLAGENT.EXE",
        r"\Program Files\Microsoft SQL Server\Client SDK\ODBC\170\Tools\Binn\SQLCMD.EXE",
        &[
            r#"SQLCMD.EXE -S . -E -Q "BACKUP DATABASE [Sales] TO DISK = N'E:\Backup\Sales_$D$.bak' WITH COMPRESSION""#,
            r#"SQLCMD.EXE -S . -E -Q "EXEC dbo.IndexOptimize @Databases = 'USER_DATABASES'""#,
        ],
        User::Sql,
    ),
    // Tomcat and XAMPP on Windows.
    sp(
        TC,
        1,
        "services.exe",
        TOMCAT9,
        &[r#""C:\Program Files\Apache Software Foundation\Tomcat 9.0\bin\Tomcat9.exe" //RS//Tomcat9"#],
        User::LocalSvc,
    ),
    sp(TC, 2, "httpd.exe", HTTPD_WIN, &[r"C:\xampp\apache\bin\httpd.exe -d C:/xampp/apache"], User::System),
    sp(
        TC,
        1,
        "wrapper.exe",
        JAVA_WIN,
        &[
            r#""C:\Program Files\Eclipse Adoptium\jdk-17.0.11.9-hotspot\bin\java.exe" -Xmx1024m -jar C:\apps\reporting\report-service.jar"#,
        ],
        User::LocalSvc,
    ),
    // Domain controllers, file servers.
    sp(
        DC,
        2,
        "cmd.exe",
        r"\Windows\System32\repadmin.exe",
        &["repadmin  /replsummary", "repadmin  /showrepl"],
        User::Interactive,
    ),
    sp(
        FS,
        3,
        "svchost.exe",
        r"\Windows\System32\Robocopy.exe",
        &[r"robocopy D:\Shares\Finance \\BACKUP01\Finance$ /MIR /R:1 /W:1 /LOG:C:\Logs\robocopy_$D$.log"],
        User::System,
    ),
    sp(FS, 2, "svchost.exe", r"\Windows\System32\VSSVC.exe", &[r"C:\Windows\system32\vssvc.exe"], User::System),
];

/// Linux process starts.
pub(crate) const LIN_SPAWNS: &[Spawn] = &[
    sp(LIN, 6, "bash", "/usr/bin/ls", &["ls -la", "ls --color=auto -l /var/log"], User::Interactive),
    sp(LIN, 4, "bash", "/usr/bin/grep", &["grep -i error /var/log/syslog", "grep --color=auto -rn TODO ."], User::Interactive),
    sp(LIN, 2, "bash", "/usr/bin/sudo", &["sudo journalctl -u ssh --since today", "sudo -i"], User::Interactive),
    sp(
        LIN,
        4,
        "cron",
        "/usr/bin/dash",
        &[
            r#"/bin/sh -c "   cd / && run-parts --report /etc/cron.hourly""#,
            r#"/bin/sh -c "command -v debian-sa1 > /dev/null && debian-sa1 1 1""#,
        ],
        User::Root,
    ),
    sp(LIN, 3, "dash", "/usr/bin/run-parts", &["run-parts --report /etc/cron.hourly"], User::Root),
    sp(LIN, 3, "dash", "/usr/lib/sysstat/sadc", &["/usr/lib/sysstat/sadc -F -L -S DISK 1 1 /var/log/sysstat"], User::Root),
    sp(LIN, 3, "sshd", "/usr/sbin/sshd", &["sshd: ubuntu [priv]", "sshd: ubuntu@pts/0"], User::Root),
    sp(LIN, 2, "sshd", "/usr/bin/bash", &["-bash"], User::Interactive),
    sp(LIN, 2, "systemd", "/usr/sbin/logrotate", &["/usr/sbin/logrotate /etc/logrotate.conf"], User::Root),
    sp(LIN, 2, "systemd", "/usr/bin/systemd-tmpfiles", &["systemd-tmpfiles --clean"], User::Root),
    sp(
        LIN,
        2,
        "systemd",
        "/usr/bin/python3.10",
        &["/usr/bin/python3 /usr/bin/unattended-upgrade --download-only"],
        User::Root,
    ),
    sp(LIN, 1, "python3.10", "/usr/bin/dpkg", &["/usr/bin/dpkg --status-fd 3 --configure --pending"], User::Root),
    sp(LIN, 3, "dash", "/usr/bin/curl", &["curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/$g$"], User::Root),
    sp(LIN, 2, "cron", "/usr/bin/python3.10", &["/usr/bin/python3 /opt/scripts/backup.py --target s3://corp-backups/$R$"], User::Root),
    sp(LAPP | K8S, 3, "containerd-shim-runc-v2", "/usr/sbin/runc", &["runc init"], User::Root),
    sp(
        K8S,
        3,
        "kubelet",
        "/usr/bin/mount",
        &["mount -t tmpfs tmpfs /var/lib/kubelet/pods/$g$/volumes/kubernetes.io~projected/kube-api-access-$R$"],
        User::Root,
    ),
    sp(APACHE, 6, "apache2", "/usr/sbin/apache2", &["/usr/sbin/apache2 -k start"], User::WwwData),
    sp(NGINX, 5, "php-fpm8.1", "/usr/sbin/php-fpm8.1", &["php-fpm: pool www"], User::WwwData),
    sp(NGINX, 4, "nginx", "/usr/sbin/nginx", &["nginx: worker process"], User::WwwData),
    sp(APACHE | NGINX, 1, "bash", "/usr/bin/git", &["git pull --ff-only origin main", "git status --porcelain"], User::Deploy),
    sp(
        LTC,
        1,
        "systemd",
        "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        &["/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Djava.util.logging.config.file=/opt/tomcat/conf/logging.properties -classpath /opt/tomcat/bin/bootstrap.jar:/opt/tomcat/bin/tomcat-juli.jar -Dcatalina.base=/opt/tomcat org.apache.catalina.startup.Bootstrap start"],
        User::Tomcat,
    ),
    sp(
        DB,
        5,
        "postgres",
        "/usr/lib/postgresql/14/bin/postgres",
        &["postgres: 14/main: checkpointer", "postgres: 14/main: autovacuum worker", "postgres: 14/main: app app 10.20.1.15(5$N$) idle"],
        User::Postgres,
    ),
    sp(DB, 1, "dash", "/usr/lib/postgresql/14/bin/pg_dump", &["pg_dump -Fc -f /var/backups/pg/app_$D$.dump app"], User::Postgres),
];

/// A file written (or directory created) by `actor` (base name).
#[derive(Debug)]
pub(crate) struct FileW {
    pub roles: u32,
    pub w: u32,
    pub ev: Ev,
    pub actor: &'static str,
    pub target: &'static str,
}
tpl!(FileW);

const fn fw(roles: u32, w: u32, ev: Ev, actor: &'static str, target: &'static str) -> FileW {
    FileW { roles, w, ev, actor, target }
}

use Ev::{DirectoryCreate as DIR, NewExecutableWritten as NEW, NewScriptWritten as NSW, PeFileWritten as PFW};

/// Windows file writes (the seed's web roots appear only with non-web extensions).
pub(crate) const WIN_FILES: &[FileW] = &[
    fw(WKS, 4, NEW, "chrome.exe", r"\Users\$U$\Downloads\$R$_setup.exe"),
    fw(WKS, 2, NEW, "msedge.exe", r"\Users\$U$\Downloads\$R$-installer.msi"),
    fw(WKS, 3, NEW, "explorer.exe", r"\Users\$U$\AppData\Roaming\Microsoft\Windows\Recent\$R$.lnk"),
    fw(WIN, 2, NEW, "svchost.exe", r"\Windows\SoftwareDistribution\Download\$H$$H$$H$$H$\$R$.exe"),
    fw(WIN, 2, NEW, "msiexec.exe", r"\Windows\Installer\$H$.msi"),
    fw(SRV, 1, NEW, "powershell.exe", r"\ProgramData\Scripts\$R$.bat"),
    fw(WKS, 6, NSW, "powershell.exe", r"\Users\$U$\AppData\Local\Temp\__PSScriptPolicyTest_$T$.ps1"),
    fw(SRV, 6, NSW, "powershell.exe", r"\Windows\Temp\__PSScriptPolicyTest_$T$.ps1"),
    fw(DEV, 4, NSW, "Code.exe", r"\Users\$U$\source\repos\webapp\src\$R$.js"),
    fw(DEV, 2, NSW, "node.exe", r"\Users\$U$\source\repos\webapp\node_modules\.vite\deps\$R$.js"),
    fw(WIN, 1, NSW, "msiexec.exe", r"\Windows\Installer\$R$\install.ps1"),
    fw(SRV, 2, NSW, "powershell.exe", r"\ProgramData\Scripts\$R$.ps1"),
    fw(IIS, 1, NSW, "msdeploy.exe", r"\inetpub\wwwroot\Scripts\$R$.js"),
    fw(
        WIN,
        4,
        PFW,
        "TiWorker.exe",
        r"\Windows\WinSxS\Temp\InFlight\$H$$H$\amd64_$R$_31bf3856ad364e35_10.0.20348.3807_none_$H$\$R$.dll",
    ),
    fw(WIN, 3, PFW, "MsMpEng.exe", r"\ProgramData\Microsoft\Windows Defender\Definition Updates\{$G$}\mpengine.dll"),
    fw(WKS, 3, PFW, "chrome.exe", r"\Users\$U$\Downloads\$R$_setup.exe"),
    fw(
        IIS,
        4,
        PFW,
        "csc.exe",
        r"\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\$H$\$H$\App_Web_$H$.dll",
    ),
    fw(IIS, 1, PFW, "msdeploy.exe", r"\inetpub\wwwroot\bin\$R$.dll"),
    fw(WIN, 2, PFW, "msiexec.exe", r"\Program Files\$R$\bin\$R$.dll"),
    fw(WIN, 3, DIR, "svchost.exe", r"\Windows\Temp\{$G$}"),
    fw(WKS, 3, DIR, "chrome.exe", r"\Users\$U$\AppData\Local\Temp\scoped_dir$P$_$N$"),
    fw(IIS, 2, DIR, "w3wp.exe", r"\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\$H$\$H$"),
];

/// Linux file writes.
pub(crate) const LIN_FILES: &[FileW] = &[
    fw(LIN, 4, NEW, "dpkg", "/usr/bin/$R$"),
    fw(LIN, 3, NEW, "python3.10", "/usr/local/bin/$R$"),
    fw(
        LAPP | K8S,
        3,
        NEW,
        "containerd",
        "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/$N$/fs/usr/local/bin/$R$",
    ),
    fw(LIN, 2, NEW, "ld", "/home/ubuntu/build/$R$"),
    fw(LIN, 1, NEW, "curl", "/tmp/$R$"),
    fw(LIN, 5, NSW, "dpkg", "/usr/lib/python3/dist-packages/$R$/__init__.py"),
    fw(LIN, 3, NSW, "python3.10", "/tmp/tmp$H$.sh"),
    fw(LIN, 2, NSW, "bash", "/home/ubuntu/scripts/$R$.sh"),
    fw(LIN, 2, NSW, "dpkg", "/etc/cron.daily/$R$"),
    fw(LIN, 2, NSW, "vim.basic", "/home/ubuntu/$R$.py"),
    fw(APACHE | NGINX, 1, NSW, "rsync", "/var/www/html/bin/$R$.sh"),
    fw(LAPP, 2, PFW, "dotnet", "/opt/app/bin/$R$.dll"),
    fw(LIN, 1, PFW, "curl", "/tmp/$R$.exe"),
    fw(LIN, 3, DIR, "dpkg", "/usr/share/doc/$R$"),
    fw(NGINX, 2, DIR, "php-fpm8.1", "/var/lib/php/sessions/sess_$H$"),
    fw(LAPP | K8S, 2, DIR, "containerd", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/$N$"),
];

/// A registry value set by `actor`. `rtype` is the value type (1 REG_SZ, 2 REG_EXPAND_SZ,
/// 3 REG_BINARY, 4 REG_DWORD, 7 REG_MULTI_SZ, 11 REG_QWORD).
#[derive(Debug)]
pub(crate) struct RegV {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub key: &'static str,
    pub vname: &'static str,
    pub rtype: u8,
    pub val: &'static str,
}
tpl!(RegV);

const fn rv(
    roles: u32,
    w: u32,
    actor: &'static str,
    key: &'static str,
    vname: &'static str,
    rtype: u8,
    val: &'static str,
) -> RegV {
    RegV { roles, w, actor, key, vname, rtype, val }
}

/// Registry values (RegGenericValueUpdate; their keys also feed key events).
pub(crate) const REG_VALUES: &[RegV] = &[
    rv(
        WKS,
        8,
        "explorer.exe",
        r"\REGISTRY\USER\$S$\Software\Microsoft\Windows\CurrentVersion\Explorer\UserAssist\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\Count",
        "HRZR_PGYFRFFVBA",
        3,
        "$H$$H$$H$",
    ),
    rv(
        WIN,
        8,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\bam\State\UserSettings\$S$",
        r"\Device\HarddiskVolume3\Windows\System32\$R$.exe",
        3,
        "$H$$H$",
    ),
    rv(
        WIN,
        6,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree\Microsoft\Windows\$R$",
        "Index",
        4,
        "$n$",
    ),
    rv(
        WIN,
        5,
        "MsMpEng.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows Defender\Signature Updates",
        "AVSignatureVersion",
        1,
        "1.431.$N$.0",
    ),
    rv(
        WIN,
        3,
        "MsMpEng.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows Defender\Signature Updates",
        "SignaturesLastUpdated",
        3,
        "$H$$H$",
    ),
    rv(
        WIN,
        5,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\Tcpip\Parameters\Interfaces\{$Q$}",
        "DhcpIPAddress",
        1,
        "$I$",
    ),
    rv(
        WIN,
        3,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\Tcpip\Parameters\Interfaces\{$Q$}",
        "LeaseObtainedTime",
        4,
        "$E$",
    ),
    rv(WIN, 4, "services.exe", r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\$Y$", "Start", 4, "$n$"),
    rv(
        WIN,
        2,
        "services.exe",
        r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\$Y$",
        "ImagePath",
        2,
        r"%SystemRoot%\System32\svchost.exe -k netsvcs -p",
    ),
    rv(
        WIN,
        1,
        "services.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\$Y$",
        "DependOnService",
        7,
        "RpcSs$0$$0$",
    ),
    rv(WKS, 5, "chrome.exe", r"\REGISTRY\USER\$S$\Software\Google\Chrome\BLBeacon", "version", 1, "138.0.7204.$N$"),
    rv(WKS, 3, "msedge.exe", r"\REGISTRY\USER\$S$\Software\Microsoft\Edge\BLBeacon", "version", 1, "138.0.3351.$N$"),
    rv(
        WKS,
        4,
        "explorer.exe",
        r"\REGISTRY\USER\$S$\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.docx",
        "MRUListEx",
        3,
        "$H$$H$",
    ),
    rv(
        WIN,
        3,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\NetworkList\Profiles\{$Q$}",
        "DateLastConnected",
        3,
        "$H$$H$$H$$H$",
    ),
    rv(
        WIN,
        2,
        "WmiPrvSE.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Wbem\CIMOM",
        "ConfigValueEssNeedsLoading",
        4,
        "$n$",
    ),
    rv(
        WIN,
        2,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Orchestrator",
        "LastScanTime",
        11,
        "$E$",
    ),
    rv(
        WIN,
        2,
        "TiWorker.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Control\Session Manager",
        "PendingFileRenameOperations",
        7,
        r"\??\C:\Windows\Temp\$R$.tmp$0$$0$",
    ),
    rv(
        IIS,
        3,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\W3SVC\Parameters",
        "MaxConnections",
        4,
        "$N$",
    ),
    rv(
        IIS,
        2,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\InetStp",
        "PathWWWRoot",
        2,
        r"%SystemDrive%\inetpub\wwwroot",
    ),
    rv(
        IIS,
        1,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\WAS\Parameters",
        "NanoSetup",
        4,
        "$n$",
    ),
    rv(
        SQL,
        2,
        "sqlservr.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQLServer\SuperSocketNetLib\Tcp\IPAll",
        "TcpPort",
        1,
        "1433",
    ),
    rv(
        EXCH,
        2,
        "EdgeTransport.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\ExchangeServer\v15\Transport",
        "LastQueueCheck",
        11,
        "$E$",
    ),
    rv(
        DC,
        2,
        "lsass.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\Netlogon\Parameters",
        "SysvolReady",
        4,
        "1",
    ),
];

/// RegSystemConfigValueUpdate values.
pub(crate) const REG_SYSCONFIG: &[RegV] = &[
    rv(
        WIN,
        4,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules",
        "{$G$}",
        1,
        r"v2.31|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=$N$|App=C:\Program Files\$R$\$R$.exe|Name=$R$ (TCP-In)|",
    ),
    rv(WIN, 1, "lsass.exe", r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Control\Lsa", "LmCompatibilityLevel", 4, "5"),
    rv(
        WIN,
        1,
        "svchost.exe",
        r"\REGISTRY\MACHINE\SOFTWARE\Policies\Microsoft\Windows Defender\Real-Time Protection",
        "DisableRealtimeMonitoring",
        4,
        "0",
    ),
];

/// An autostart (ASEP) value: the registry value plus the file it points to.
#[derive(Debug)]
pub(crate) struct Asep {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub key: &'static str,
    pub vname: &'static str,
    pub rtype: u8,
    pub val: &'static str,
    pub target: &'static str,
    pub class: u8,
}
tpl!(Asep);

pub(crate) const ASEPS: &[Asep] = &[
    Asep {
        roles: WKS,
        w: 3,
        actor: "OneDrive.exe",
        key: r"\REGISTRY\USER\$S$\Software\Microsoft\Windows\CurrentVersion\Run",
        vname: "OneDrive",
        rtype: 1,
        val: r#""C:\Users\$U$\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background"#,
        target: r"\Users\$U$\AppData\Local\Microsoft\OneDrive\OneDrive.exe",
        class: 1,
    },
    Asep {
        roles: WIN,
        w: 3,
        actor: "services.exe",
        key: r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\$Y$",
        vname: "ImagePath",
        rtype: 2,
        val: r"%SystemRoot%\System32\svchost.exe -k netsvcs -p",
        target: r"\Windows\System32\svchost.exe",
        class: 7,
    },
    Asep {
        roles: WIN,
        w: 1,
        actor: "TrustedInstaller.exe",
        key: r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
        vname: "SecurityHealth",
        rtype: 2,
        val: r"%windir%\system32\SecurityHealthSystray.exe",
        target: r"\Windows\System32\SecurityHealthSystray.exe",
        class: 1,
    },
];

/// A DNS lookup by `actor`.
#[derive(Debug)]
pub(crate) struct Dns {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub domain: &'static str,
    pub rtype: &'static str,
}
tpl!(Dns);

const fn dn(roles: u32, w: u32, actor: &'static str, domain: &'static str) -> Dns {
    Dns { roles, w, actor, domain, rtype: "1" }
}

pub(crate) const DNS: &[Dns] = &[
    dn(WKS, 6, "chrome.exe", "www.google.com"),
    dn(WKS, 4, "chrome.exe", "clients2.google.com"),
    dn(WKS, 4, "msedge.exe", "edge.microsoft.com"),
    dn(WKS, 5, "OUTLOOK.EXE", "outlook.office365.com"),
    dn(WKS, 3, "ms-teams.exe", "teams.microsoft.com"),
    dn(WIN, 4, "svchost.exe", "login.microsoftonline.com"),
    dn(WIN, 3, "svchost.exe", "settings-win.data.microsoft.com"),
    dn(WIN, 2, "svchost.exe", "ctldl.windowsupdate.com"),
    dn(WIN, 3, "CSFalconService.exe", "ts01-lanner-lion.cloudsink.net"),
    dn(WIN, 3, "svchost.exe", "dc01.corp.example.com"),
    Dns { roles: WIN, w: 2, actor: "svchost.exe", domain: "_ldap._tcp.dc._msdcs.corp.example.com", rtype: "33" },
    dn(WIN, 2, "MsMpEng.exe", "wdcp.microsoft.com"),
    dn(SRV, 2, "svchost.exe", "ocsp.digicert.com"),
    dn(EXCH, 3, "EdgeTransport.exe", "corp-example-com.mail.protection.outlook.com"),
    dn(IIS, 2, "w3wp.exe", "api.stripe.com"),
    dn(DEV, 3, "node.exe", "registry.npmjs.org"),
    dn(DEV, 2, "git.exe", "github.com"),
    dn(LIN, 3, "apt-get", "archive.ubuntu.com"),
    dn(LIN, 2, "apt-get", "security.ubuntu.com"),
    dn(LIN, 2, "systemd-timesyncd", "ntp.ubuntu.com"),
    dn(LIN, 3, "falcon-sensor", "ts01-lanner-lion.cloudsink.net"),
    dn(LIN, 2, "curl", "hc-ping.com"),
    dn(LIN, 2, "python3.10", "s3.us-east-1.amazonaws.com"),
    dn(K8S | LAPP, 3, "containerd", "registry-1.docker.io"),
    dn(APACHE | NGINX, 2, "php-fpm8.1", "api.wordpress.org"),
    dn(LTC, 2, "java", "repo.maven.apache.org"),
    Dns { roles: LIN, w: 1, actor: "python3.10", domain: "pypi.org", rtype: "28" },
];

/// An outbound connection by `actor`: `internal` picks a 10.x peer, otherwise a public one.
#[derive(Debug)]
pub(crate) struct Conn {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub port: u16,
    pub internal: bool,
}
tpl!(Conn);

const fn cn(roles: u32, w: u32, actor: &'static str, port: u16, internal: bool) -> Conn {
    Conn { roles, w, actor, port, internal }
}

pub(crate) const CONNS: &[Conn] = &[
    cn(WKS, 8, "chrome.exe", 443, false),
    cn(WKS, 4, "msedge.exe", 443, false),
    cn(WKS, 3, "OUTLOOK.EXE", 443, false),
    cn(WKS, 2, "ms-teams.exe", 443, false),
    cn(WIN, 4, "svchost.exe", 443, false),
    cn(WIN, 2, "svchost.exe", 80, false),
    cn(WIN, 3, "CSFalconService.exe", 443, false),
    cn(WIN, 2, "lsass.exe", 389, true),
    cn(WIN, 2, "lsass.exe", 88, true),
    cn(WIN, 1, "System", 445, true),
    cn(IIS, 3, "w3wp.exe", 1433, true),
    cn(IIS, 1, "w3wp.exe", 443, false),
    cn(EXCH, 2, "EdgeTransport.exe", 25, false),
    cn(DEV, 2, "node.exe", 443, false),
    cn(LIN, 3, "falcon-sensor", 443, false),
    cn(LIN, 2, "apt-get", 80, false),
    cn(LIN, 2, "sshd", 22, true),
    cn(LIN, 1, "curl", 443, false),
    cn(APACHE | NGINX, 3, "php-fpm8.1", 3306, true),
    cn(APACHE, 2, "apache2", 443, false),
    cn(LTC, 2, "java", 5432, true),
    cn(K8S | LAPP, 3, "containerd", 443, false),
    cn(DB, 1, "postgres", 5432, true),
];

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listen {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub port: u16,
}
tpl!(Listen);

pub(crate) const LISTENS: &[Listen] = &[
    Listen { roles: WIN, w: 2, actor: "svchost.exe", port: 135 },
    Listen { roles: WIN, w: 1, actor: "svchost.exe", port: 3389 },
    Listen { roles: IIS, w: 3, actor: "System", port: 443 },
    Listen { roles: IIS, w: 2, actor: "System", port: 80 },
    Listen { roles: SQL, w: 3, actor: "sqlservr.exe", port: 1433 },
    Listen { roles: EXCH, w: 2, actor: "EdgeTransport.exe", port: 25 },
    Listen { roles: TC, w: 2, actor: "Tomcat9.exe", port: 8080 },
    Listen { roles: TC, w: 1, actor: "httpd.exe", port: 80 },
    Listen { roles: DC, w: 2, actor: "lsass.exe", port: 389 },
    Listen { roles: LIN, w: 2, actor: "sshd", port: 22 },
    Listen { roles: APACHE, w: 3, actor: "apache2", port: 443 },
    Listen { roles: NGINX, w: 3, actor: "nginx", port: 443 },
    Listen { roles: DB, w: 3, actor: "postgres", port: 5432 },
    Listen { roles: LTC, w: 3, actor: "java", port: 8080 },
];

/// A module (DLL) loaded into `actor` (ImageHash, ClassifiedModuleLoad).
#[derive(Debug)]
pub(crate) struct Module {
    pub roles: u32,
    pub w: u32,
    pub actor: &'static str,
    pub image: &'static str,
}
tpl!(Module);

const fn md(roles: u32, w: u32, actor: &'static str, image: &'static str) -> Module {
    Module { roles, w, actor, image }
}

pub(crate) const MODULES: &[Module] = &[
    md(WIN, 4, "svchost.exe", r"\Windows\System32\wininet.dll"),
    md(WIN, 3, "svchost.exe", r"\Windows\System32\wbem\wbemcomn.dll"),
    md(WIN, 2, "powershell.exe", r"\Windows\Microsoft.NET\Framework64\v4.0.30319\clr.dll"),
    md(
        WIN,
        2,
        "powershell.exe",
        r"\Windows\assembly\NativeImages_v4.0.30319_64\System.Management.A#\$H$$H$\System.Management.Automation.ni.dll",
    ),
    md(WKS, 4, "chrome.exe", r"\Program Files\Google\Chrome\Application\138.0.7204.101\chrome.dll"),
    md(WKS, 2, "OUTLOOK.EXE", r"\Program Files\Microsoft Office\root\Office16\OLMAPI32.DLL"),
    md(IIS, 3, "w3wp.exe", r"\Windows\System32\inetsrv\iiscore.dll"),
    md(IIS, 2, "w3wp.exe", r"\Windows\Microsoft.NET\Framework64\v4.0.30319\webengine4.dll"),
    md(
        IIS,
        2,
        "w3wp.exe",
        r"\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\$H$\$H$\App_Web_$H$.dll",
    ),
    md(SQL, 3, "sqlservr.exe", r"\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlmin.dll"),
    md(EXCH, 3, "w3wp.exe", r"\Program Files\Microsoft\Exchange Server\V15\bin\Microsoft.Exchange.Data.Storage.dll"),
    md(TC, 2, "Tomcat9.exe", r"\Program Files\Eclipse Adoptium\jdk-17.0.11.9-hotspot\bin\server\jvm.dll"),
];

/// Windows service names (`$Y$`).
pub(crate) const SERVICES: &[&str] = &[
    "BITS",
    "wuauserv",
    "Dnscache",
    "edgeupdate",
    "MapsBroker",
    "gupdate",
    "WSearch",
    "Spooler",
    "sppsvc",
    "DiagTrack",
    "WinDefend",
];

/// Words for file and task names (`$R$`).
pub(crate) const WORDS: &[&str] = &[
    "update",
    "agent",
    "helper",
    "sync",
    "report",
    "backup",
    "config",
    "setup",
    "client",
    "service",
    "monitor",
    "notify",
    "runtime",
    "loader",
    "bridge",
    "cache",
    "export",
    "import",
    "index",
    "render",
    "zoom",
    "slack",
    "teams",
    "vlc",
    "7zip",
    "python",
    "node",
    "docker",
    "kubectl",
    "terraform",
    "awscli",
    "jq",
    "htop",
    "certbot",
    "fail2ban",
    "logwatch",
];

/// Workstation user names (one per workstation; the non-ASCII one exercises UTF-8).
pub(crate) const WKS_USERS: &[&str] = &[
    "jsmith",
    "adavis",
    "mgarcia",
    "kwilliams",
    "tnguyen",
    "rpatel",
    "lchen",
    "sobrien",
    "jmüller",
    "akowalski",
    "bjohnson",
    "emartin",
    "fdubois",
    "hsato",
    "ivanova",
];

/// Admin accounts on servers.
pub(crate) const ADMIN_USERS: &[&str] = &["admin.jd", "adm-rpatel", "svc_backup", "administrator"];

/// Linux files a sensor reports as critical when read.
pub(crate) const CRITICAL_FILES: &[(&str, &str)] = &[
    ("/etc/shadow", "sshd"),
    ("/etc/shadow", "sudo"),
    ("/etc/sudoers", "sudo"),
    ("/etc/ssh/sshd_config", "sshd"),
    ("/root/.ssh/authorized_keys", "sshd"),
];
