//! `kboss`: the compute-center inventory of the kboss console
//! (`/dev/cpcc/...dspy`): compute centers, devices, labels, clusters, priced
//! components with per-cluster stock, GPU stock, quotes and the buy page's
//! capacity check (`cpcbuy/determine_accommodat`).
//!
//! Every route uses the `session` scheme (an API key as Bearer; the
//! documented `orgid` only when the server runs with `--debug-orgid`), so
//! every call is scoped by the host to the caller's organisation. Answers
//! are kboss envelopes, `{status, msg, data}`, lists `{total, rows}` pages
//! with `row_num_`; parameters come from the query string, a form or a JSON
//! body under the documented names (list parameters also repeated). Failures
//! answer HTTP 200 as the document shows them, `{status: false, msg,
//! detail}`: `msg` the document's text where it gives one (`无算力中心ID`,
//! `该部件已存在,请前往编辑!`, `算力中心服务操作失败`, the quote's errors),
//! otherwise a fixed text per case, `detail` which parameter and why; they
//! change nothing. Only what the host answers itself keeps another status
//! (401 without a valid key, 413, a trap or deadline). Passwords,
//! kubeconfigs and join commands are sealed by the host and shown as
//! `******`; a field without a value is `""`, never `null`.
//!
//! Clusters are built from the center's devices over SSH ([`provision`]:
//! `cpccluster/new_cluster`, `cpcworker/new_cpcworker`,
//! `cpcworker/delete_cpcworker`, `/computing/cpcluster_delete.dspy`), as
//! persisted operations (`Prefer: respond-async` answers 202).
//!
//! Imports `inventory`, `pricing`, `scheduling`, `kubernetes`, `ssh` and
//! `operations`.

mod accrual;
mod buy;
mod centers;
mod clusters;
mod common;
mod devices;
mod labels;
mod live;
mod podyaml;
mod provision;
mod schema;
mod widgets;

use computehub_sdk::prelude::*;

type Handler = fn(&Request, &Params) -> Result<Response, ApiError>;

/// One documented endpoint.
struct Endpoint {
    method: Method,
    path: &'static str,
    summary: &'static str,
    /// (name, required, description) of the documented parameters.
    params: &'static [(&'static str, bool, &'static str)],
    handler: Handler,
}

const ORGID: (&str, bool, &str) = (
    "orgid",
    false,
    "线下调试/非登录态可指定组织ID (honoured only when the server runs with --debug-orgid)",
);
const PAGING: [(&str, bool, &str); 3] = [
    ("page", false, "看哪页 (1-based)"),
    ("rows", false, "看多少行 (default 80)"),
    (
        "sort",
        false,
        "排序: `field`, `field desc` or `-field`, comma-separated, at most 8 keys (more: refused)",
    ),
];

macro_rules! endpoint {
    ($method:ident $path:literal, $summary:literal, $handler:path, $params:expr) => {
        Endpoint {
            method: Method::$method,
            path: concat!("/dev/cpcc/", $path, ".dspy"),
            summary: $summary,
            params: &$params,
            handler: $handler,
        }
    };
}

const CENTER_FIELDS: [(&str, bool, &str); 8] = [
    (
        "name",
        true,
        "算力中心名称 (display name: letters, digits, spaces, `- _ . : @ + / , ( )`; at most 255)",
    ),
    ("pcapi_url", true, "算力中心API总址"),
    ("api_user", true, "算力中心接口账号"),
    (
        "api_pwd",
        true,
        "算力中心接口密码 (sealed; `******` keeps the stored one)",
    ),
    ("contactname", true, "联系人"),
    ("contactphone", true, "手机号 (may be empty)"),
    ("enable_date", false, "启用日期 YYYY-MM-DD"),
    ("expire_date", false, "停用日期 YYYY-MM-DD"),
];

const DEVICE_FIELDS: [(&str, bool, &str); 20] = [
    ("cpcid", true, "算力中心ID"),
    ("ip", true, "IP地址 (an IPv4 or IPv6 literal)"),
    ("name", true, "设备简称 (unique in the organisation; display name: letters, digits, spaces, `- _ . : @ + / , ( )`; at most 255)"),
    ("devicetype", true, "设备类型, 0是虚拟机, 1是物理机"),
    ("sshport", true, "SSH端口 (1-65535)"),
    ("adminuser", true, "管理账号 (login name: 1-32 of letters, digits, `_ - .`)"),
    (
        "adminpwd",
        true,
        "管理密码 (sealed; `******` keeps the stored one)",
    ),
    ("node_status", true, "算力设备状态, 0是空闲, 1是占用"),
    ("external_ip", true, "公网IP (an IP literal; empty: 未设置)"),
    ("cpu_model", true, "CPU型号 (display name)"),
    ("cpu_stock", true, "CPU库存量, 核"),
    ("memory_model", true, "内存型号 (display name)"),
    ("memory_stock", true, "内存库存量, Gi"),
    ("sysdisk_stock", true, "系统盘库存量, Gi"),
    ("datadisk_stock", true, "数据盘库存量, Gi"),
    ("gpu_model", true, "GPU型号 (display name)"),
    ("gpu_stock", true, "GPU库存量, 卡"),
    ("role", true, "集群角色: master, worker or empty"),
    ("enable_date", false, "启用日期 YYYY-MM-DD"),
    ("export_date", false, "停用日期 YYYY-MM-DD"),
];

const fn cat<const A: usize, const B: usize, const C: usize>(
    a: [(&'static str, bool, &'static str); A],
    b: [(&'static str, bool, &'static str); B],
) -> [(&'static str, bool, &'static str); C] {
    let mut out = [("", false, ""); C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

const CENTER_ADD: [(&str, bool, &str); 9] = cat(CENTER_FIELDS, [ORGID]);
const CENTER_UPDATE: [(&str, bool, &str); 10] = cat(CENTER_ADD, [("id", true, "算力中心ID")]);
const LIST_CENTERS: [(&str, bool, &str); 4] = cat(PAGING, [ORGID]);
const LIST_DEVICES: [(&str, bool, &str); 5] = cat(
    cat::<3, 1, 4>(PAGING, [("cpcid", true, "算力中心id")]),
    [ORGID],
);
const DEVICE_UPDATE: [(&str, bool, &str); 22] = cat(
    cat::<20, 1, 21>(DEVICE_FIELDS, [("id", true, "算力设备ID")]),
    [ORGID],
);
const DEVICE_ADD: [(&str, bool, &str); 21] = cat(DEVICE_FIELDS, [ORGID]);

const PODYAML_FIELDS: [(&str, bool, &str); 24] = [
    ("clusterid", true, "集群唯一标识ID"),
    ("source_name", true, "资源实例的名称 (display name)"),
    ("source_authuser", false, "初始认证账号"),
    (
        "source_authpasswd",
        false,
        "初始认证密码 (sealed; never returned)",
    ),
    (
        "source_podengine",
        true,
        "StatefulSet, Deployment, DaemonSet, CronJob, Job, Standalone",
    ),
    ("source_replicasetnum", true, "副本数"),
    ("instance_type", false, "LinuxOS or RelationalDB"),
    ("pod_imagepath", true, "基础镜像"),
    ("source_memrate", true, "内存资源限制 (quantity, 512Mi)"),
    ("source_cpurate", true, "CPU资源限制 (quantity, 1000m)"),
    (
        "source_selflabel",
        false,
        "自定义标签 key:value, comma-separated, at most 32",
    ),
    ("source_gpu", false, "分配GPU个数"),
    ("source_portmode", false, "NodePort, Ingress, LoadBalancer"),
    ("source_restartpolicy", false, "Always, OnFailure, Never"),
    ("source_apiport", false, "服务对外提供的端口"),
    ("source_insideport", false, "容器内部监听的端口"),
    ("source_outsideport", false, "NodePort 30000-32767"),
    ("source_mountpath", false, "容器内的挂载路径"),
    ("source_storagelimits", false, "存储资源限制 (quantity)"),
    (
        "source_nodeselector",
        false,
        "节点选择器 key=value, comma-separated, at most 32",
    ),
    ("cpu_model", false, "CPU型号"),
    ("gpu_model", false, "显卡型号"),
    ("disk_sys_limit", false, "默认系统盘空间 (quantity, 50Gi)"),
    (
        "userid",
        false,
        "accepted and ignored: the caller is the API key's organisation",
    ),
];
const PODYAML_CREATE: [(&str, bool, &str); 25] = cat(PODYAML_FIELDS, [ORGID]);
const PODYAML_UPDATE: [(&str, bool, &str); 27] = cat(
    cat::<24, 2, 26>(
        PODYAML_FIELDS,
        [
            ("cpcid", true, "算力中心ID"),
            ("id", true, "资源实例配置ID"),
        ],
    ),
    [ORGID],
);

static ENDPOINTS: &[Endpoint] = &[
    endpoint!(Get "cpclist/get_cpclist", "算力中心展示", centers::list, LIST_CENTERS),
    endpoint!(Post "cpclist/add_cpclist", "算力中心添加", centers::add, CENTER_ADD),
    endpoint!(Post "cpclist/update_cpclist", "算力中心更新", centers::update, CENTER_UPDATE),
    endpoint!(Post "cpclist/delete_cpclist", "算力中心删除 (refused while in use)", centers::delete,
        [("id", true, "算力中心展示接口返回的id"), ORGID]),
    endpoint!(Get "cpcnode/get_cpcnode", "算力设备展示", devices::list, LIST_DEVICES),
    endpoint!(Post "cpcnode/add_cpcnode", "算力设备添加", devices::add, DEVICE_ADD),
    endpoint!(Post "cpcnode/update_cpcnode", "算力设备更新", devices::update, DEVICE_UPDATE),
    endpoint!(Post "cpcnode/delete_cpcnode", "算力设备移除", devices::delete,
        [("id", true, "算力设备查找返回的id"), ORGID]),
    endpoint!(Get "cpcnode/get_cpcidle_device", "获取空闲的算力设备", devices::idle,
        [("cpcid", true, "算力中心id"), ORGID]),
    endpoint!(Get "cpclabel/get_cpclabel", "获取资源标签", labels::list, LIST_CENTERS),
    endpoint!(Post "cpclabel/add_cpclabel", "新增资源标签", labels::add, [
        ("name", true, "标签名称 (display name)"),
        ("labeltype", true, "0是实例标签 (key:value), 1是节点标签 (key=value)"),
        ("label_key", true, "标签属性 (Kubernetes label key: `name` or `prefix/name`, letters, digits, `-`, `_`, `.`, at most 63; checked when stored)"),
        ("label_value", true, "标签属性值 (Kubernetes label value: letters, digits, `-`, `_`, `.`, at most 63)"),
        ORGID,
    ]),
    endpoint!(Post "cpclabel/delete_cpclabel", "删除资源标签", labels::delete,
        [("id", true, "标签列表返回的id"), ORGID]),
    endpoint!(Get "cpccluster/get_cpccluster", "获取多算力集群信息 (kubeconfig redacted)",
        clusters::list, LIST_DEVICES),
    endpoint!(Post "cpccluster/update_cpccluster", "算力集群基础信息更新 (name and dates only)",
        clusters::update, [
        ("cpcid", true, "所属算力中心ID"),
        ("id", true, "算力集群id"),
        ("name", false, "集群名称 (display name)"),
        ("enable_date", false, "启用时间"),
        ("export_date", false, "停止时间"),
        ("controllerid", false, "集群控制节点id (cannot change)"),
        ("cluster_type", false, "集群类型 (cannot change)"),
        ("clusterjoin", false, "集群注册码 (cannot change)"),
        ORGID,
    ]),
    endpoint!(Post "cpcwidget/add_cpcwidget", "添加算力部件", widgets::add, [
        ("cpcid", true, "算力中心id"),
        ("clusterid", true, "算力集群id (the stock goes there)"),
        ("type", true, "cpu/memory/disk/gpu"),
        ("resource_unit", true, "资源分配单位: 核 or m; Ki/Mi/Gi/Ti; 卡/张/块/个"),
        ("unit_price", true, "单位单价 (decimal)"),
        ("model", true, "算力部件型号, 默认STANDARD (display name)"),
        ("stock", true, "库存量"),
        ("charge_unit", true, "计费周期: 秒/分钟/小时/天"),
        ("account_unit", true, "计费人民币单位: 元/角/分"),
        ("add_opt", true, "yes: 增加库存 to an existing type and model; default no"),
        ORGID,
    ]),
    endpoint!(Get "cpcwidget/get_cpcwidget", "获取算力部件", widgets::list, LIST_DEVICES),
    endpoint!(Get "cpcwidget/accrual_price", "部件组合询价 (through the active pricing engine)",
        accrual::accrual_price, [
        ("cpcid", true, "算力中心id"),
        ("resources", true, "array of 1-100 {type, model, amount} (memory in Mi): one JSON array, or the parameter repeated with one JSON object each (resources={..}&resources={..}, also resources[]=)"),
        ("duration", true, "使用时长, 整数"),
        ("duration_unit", true, "小时/天/周/月 (hour/day/week/month)"),
        ("clusterid", false, "集群id: check that cluster's stock"),
        ORGID,
    ]),
    endpoint!(Get "cpcbuy/determine_accommodat", "获取站点不可部署产品ID: stock (static) then live nodes (dynamic)",
        buy::determine, [
        ("cpcid", true, "算力中心id"),
        ("clusterid", true, "集群id"),
        ("resources", true, "at most 10,000 products, one JSON array or the parameter repeated with one product each: {\"id\":\"p1\",\"cpu\":\"4\",\"memory\":\"8Gi\",\"gpu\":1,\"gpu_model\":\"RTX4090-24G\",\"disk\":\"100Gi\",\"labels\":{\"kyy-gpu\":\"true\"}} (Kubernetes quantities; only id required, at most 253 characters; at most 32 labels a product)"),
        ("kyylabels", true, "node labels every product needs: `k=v,k2=v2`, a JSON object or array, or stored label ids (also repeated); at most 32; may be empty"),
        ("explain", false, "true: add `explain`, per product the stock or per-node shortfalls (whole nodes first, within 8 MiB of explanation an answer shared by the unplaceable products; `shortfalls_omitted` counts what was left out)"),
        ORGID,
    ]),
    endpoint!(Post "cpcwidget/update_cpcwidget", "更新算力部件单价 (unit price only)",
        widgets::update, [
        ("id", false, "获取算力部件得到的id"),
        ("cpcid", true, "算力中心id"),
        ("unit_price", true, "单位单价 (decimal)"),
        ("type", true, "算力部件类型"),
        ("model", true, "型号系列"),
        ORGID,
    ]),
    endpoint!(Post "cpcwidget/delete_cpcwidget", "移除算力部件", widgets::delete,
        [("id", true, "节点部件查找返回的id"), ("cpcid", true, "算力中心id"), ORGID]),
    endpoint!(Get "cpcwidget/obtaining_gpuinfo", "获取站点GPU资源配置库存", widgets::gpu_info,
        [("cpcid", false, "算力中心id"), ("clusterid", false, "算力集群id"), ORGID]),
    endpoint!(Post "cpccluster/new_cluster", "创建算力集群: 空闲设备安装控制节点 (SSH, minutes; Prefer: respond-async -> 202)",
        provision::new_cluster, [
        ("cpcid", true, "算力中心id"),
        ("ctl_nodeid", true, "集群控制节点的id (an idle device of the center)"),
        ("cluster_type", true, "集群类别, 0是kubernetes (1 slurm: not supported)"),
        ("cluster_name", true, "集群名称 (display name)"),
        ("enable_date", true, "启用时间"),
        ("export_date", true, "停用时间"),
        ORGID,
    ]),
    endpoint!(Post "cpcworker/new_cpcworker", "集群新增工作节点 (SSH join, minutes; Prefer: respond-async -> 202)",
        provision::new_worker, [
        ("cpcid", true, "算力中心id"),
        ("clusterid", true, "选中集群id"),
        ("worker_nodeid", true, "选中算力设备id (idle)"),
        ORGID,
    ]),
    endpoint!(Post "cpcworker/delete_cpcworker", "集群移除工作节点: drain, delete the node, reset the machine, release the device",
        provision::delete_worker, [
        ("cpcid", true, "算力中心id"),
        ("clusterid", true, "集群id"),
        ("worker_nodeid", true, "工作节点的算力设备id"),
        ORGID,
    ]),
    endpoint!(Get "cpcworker/get_cpcworker", "实时集群成员节点看板 (usage from the metrics API)",
        live::workers, [("cpcid", true, "算力中心ID"), ("clusterid", true, "算力集群ID"), ORGID]),
    endpoint!(Get "cpcpod/get_cpcpod", "实时集群资源实例看板 (usage from the metrics API)",
        live::pods, [("cpcid", true, "算力中心ID"), ("clusterid", true, "算力集群ID"), ORGID]),
    endpoint!(Post "cpclabel/setup_cpclabel", "集群节点绑定/解绑标签 (one stored label)",
        live::setup_label, [
        ("cpcid", true, "算力中心id"),
        ("clusterid", true, "算力集群id"),
        ("label", true, "单个标签内容 `key=value` (or the label's id)"),
        ("worker_node", true, "集群某节点 (节点名: a DNS subdomain)"),
        ("opt", true, "label是绑定, unlabel是解绑"),
        ORGID,
    ]),
    endpoint!(Post "cpcpodyaml/new_cpcpodyaml", "新增集群资源实例配置: store it and apply it to the cluster",
        podyaml::create, PODYAML_CREATE),
    endpoint!(Get "cpcpodyaml/get_cpcpodyaml", "获取集群资源实例配置 (password redacted)",
        podyaml::list, [("cpcid", true, "算力中心ID"), ("clusterid", true, "算力集群ID"), ORGID]),
    endpoint!(Post "cpcpodyaml/update_cpcpodyaml", "更新集群资源实例配置: re-apply (replicas, limits, ...)",
        podyaml::update, PODYAML_UPDATE),
    endpoint!(Post "cpcpodyaml/delete_cpcpodyaml", "删除集群资源实例配置: delete everything it made in the cluster",
        podyaml::delete, [("id", true, "要删除的资源实例配置id"), ORGID]),
    Endpoint {
        method: Method::Post,
        path: "/computing/cpcluster_delete.dspy",
        summary:
            "算力中心移除算力集群: reset every member, release every device, remove the cluster",
        params: &[("id", true, "算力集群查找返回的id"), ORGID],
        handler: provision::delete_cluster,
    },
];

/// The route's documentation from `openapi.json` (parameter types and the
/// document's example, secrets as the platform answers them): the success
/// envelope's schema is read from the example, next to the failure's; a
/// `POST` also takes its parameters as a form or JSON body.
fn documented(r: RouteBuilder, docs: &serde_json::Map<String, serde_json::Value>) -> RouteBuilder {
    let mut schema = kboss::response_schema();
    if let Some(example) = docs.get(&r.key()).and_then(|d| d.get("example")) {
        let mut success = route::schema_of(example);
        success["required"] = serde_json::json!(["status", "msg", "data"]);
        success["properties"]["status"] = serde_json::json!({"const": true});
        schema["oneOf"][0] = success;
    }
    let post = r.key().starts_with("POST ");
    let r = r
        .response(200, kboss::RESPONSE_200, Some(schema))
        .documented(docs);
    if post {
        r.query_as_body()
    } else {
        r
    }
}

struct Kboss;

impl Plugin for Kboss {
    fn describe() -> PluginInfo {
        let docs = route::docs(include_str!("openapi.json"));
        plugin_info(
            "kboss",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Kboss,
            ENDPOINTS.iter().map(|e| {
                let mut r = RouteBuilder::new(e.method, e.path, AuthScheme::Session)
                    .summary(e.summary)
                    .tag("kboss");
                for (name, required, description) in e.params {
                    r = r.query_param(name, *required, description);
                }
                r = documented(r, &docs);
                if let Some(ms) = provision::deadline(e.path) {
                    r = r.deadline_ms(ms);
                }
                r
            }),
        )
    }

    fn handle(req: Request) -> Response {
        let found = ENDPOINTS
            .iter()
            .find(|e| e.method == req.method && e.path == req.route);
        let result = match found {
            Some(e) => req
                .params()
                .map_err(ApiError::from)
                .and_then(|p| (e.handler)(&req, &p)),
            None => Err(ApiError::NotFound(format!("no kboss route {}", req.route))),
        };
        result.unwrap_or_else(|e| kboss::from_error(&e))
    }
}

export_plugin!(Kboss);
export_declarations!(Kboss);
