"""Passwords where people put them: connection strings, URLs, configuration, command lines.

Each row is ``(provider, format name, template, where the format is documented)``. The
password is generated (``{{pwmixed:n}}``: upper, lower, digits and punctuation;
``{{pwurl:n}}``: characters a URL's userinfo carries unencoded), so its needle is as random
as a token's; the user name, host and options around it are not needles.
"""

from __future__ import annotations

from typing import Final

from .generate import Format
from .generate import gitleaks as gl

__all__ = ("PASSWORDS",)

USERINFO: Final = "RFC 3986, section 3.2.1 (userinfo)"


def _templated(family: str, rows: list[tuple[str, str, str, str]]) -> tuple[Format, ...]:
    return tuple(Format(p, n, family, s, context=True, template=t) for p, n, t, s in rows)


_CONNECTIONS: list[tuple[str, str, str, str]] = [
    (
        "Microsoft SQL Server",
        "ADO.NET connection string",
        "Server=tcp:sql-prod.database.windows.net,1433;Database=orders;User ID=app_rw;"
        "Password={{pwmixed:20}};Encrypt=True;",
        "https://learn.microsoft.com/en-us/dotnet/api/system.data.sqlclient.sqlconnection.connectionstring",
    ),
    (
        "Microsoft Azure",
        "storage connection string",
        "DefaultEndpointsProtocol=https;AccountName=contosodata;AccountKey={{b64:86}}==;"
        "EndpointSuffix=core.windows.net",
        "https://learn.microsoft.com/en-us/azure/storage/common/storage-configure-connection-string",
    ),
    (
        "Microsoft Azure",
        "Service Bus connection string",
        "Endpoint=sb://contoso-bus.servicebus.windows.net/;SharedAccessKeyName="
        "RootManageSharedAccessKey;SharedAccessKey={{b64:43}}=",
        "https://learn.microsoft.com/en-us/azure/service-bus-messaging/service-bus-sas",
    ),
    (
        "Microsoft Azure",
        "Event Hubs connection string",
        "Endpoint=sb://contoso-eh.servicebus.windows.net/;SharedAccessKeyName=send;"
        "SharedAccessKey={{b64:43}}=;EntityPath=telemetry",
        "https://learn.microsoft.com/en-us/azure/event-hubs/event-hubs-get-connection-string",
    ),
    (
        "Microsoft Azure",
        "Cosmos DB connection string",
        "AccountEndpoint=https://contoso-db.documents.azure.com:443/;AccountKey={{b64:86}}==;",
        "https://learn.microsoft.com/en-us/azure/cosmos-db/secure-access-to-data",
    ),
    (
        "Microsoft Azure",
        "SignalR connection string",
        "Endpoint=https://contoso-rt.service.signalr.net;AccessKey={{b64:43}}=;Version=1.0;",
        "https://learn.microsoft.com/en-us/azure/azure-signalr/concept-connection-string",
    ),
    (
        "Microsoft Azure",
        "App Configuration connection string",
        "Endpoint=https://contoso-cfg.azconfig.io;Id={{_alnum:4}}-l4-s0:{{_alnum:20}};"
        "Secret={{b64:43}}=",
        "https://learn.microsoft.com/en-us/azure/azure-app-configuration/concept-key-value",
    ),
    (
        "PostgreSQL",
        "ODBC connection string",
        "Driver={PostgreSQL Unicode};Server=db.internal;"
        "Port=5432;Database=app;Uid=report;Pwd={{pwmixed:18}};",
        "https://odbc.postgresql.org/docs/config.html",
    ),
    (
        "PostgreSQL",
        "JDBC URL",
        "jdbc:postgresql://db.internal:5432/app?user=app&password={{pwurl:20}}",
        "https://jdbc.postgresql.org/documentation/use/#connection-parameters",
    ),
    (
        "PostgreSQL",
        "connection URI",
        "postgres://app:{{pwurl:20}}@db.internal:5432/app",
        "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS",
    ),
    (
        "PostgreSQL",
        "password file line",
        "db.internal:5432:app:app:{{pwmixed:20}}",
        "https://www.postgresql.org/docs/current/libpq-pgpass.html",
    ),
    (
        "MySQL",
        "JDBC URL",
        "jdbc:mysql://db.internal:3306/shop?user=shop&password={{pwurl:20}}&useSSL=true",
        "https://dev.mysql.com/doc/connector-j/en/connector-j-reference-jdbc-url-format.html",
    ),
    (
        "MySQL",
        "connection URI",
        "mysql://root:{{pwurl:18}}@127.0.0.1:3306/app",
        "https://dev.mysql.com/doc/refman/8.0/en/connecting-using-uri-or-key-value-pairs.html",
    ),
    (
        "Oracle Database",
        "ODP.NET connection string",
        "Data Source=ORCLPDB1;User Id=hr;Password={{pwmixed:16}};",
        "https://docs.oracle.com/en/database/oracle/oracle-database/21/odpnt/featConnecting.html",
    ),
    (
        "Snowflake",
        "SQLAlchemy URL",
        "snowflake://etl_user:{{pwurl:20}}@acme-xy12345/analytics/public?warehouse=LOAD_WH",
        "https://docs.snowflake.com/en/developer-guide/python-connector/sqlalchemy",
    ),
    (
        "MongoDB",
        "SRV connection string",
        "mongodb+srv://app:{{pwurl:20}}@cluster0.ab1cd.mongodb.net/shop?retryWrites=true",
        "https://www.mongodb.com/docs/manual/reference/connection-string/",
    ),
    (
        "Redis",
        "connection URI",
        "redis://:{{pwurl:24}}@cache.internal:6379/0",
        "https://www.iana.org/assignments/uri-schemes/prov/redis",
    ),
    (
        "Upstash",
        "Redis URL",
        "rediss://default:{{alnum:34}}@eu2-fast-owl-31337.upstash.io:6379",
        "https://upstash.com/docs/redis/howto/connectclient",
    ),
    (
        "RabbitMQ",
        "AMQP URI",
        "amqps://orders:{{pwurl:20}}@mq.internal:5671/prod",
        "https://www.rabbitmq.com/docs/uri-spec",
    ),
    (
        "SMTP",
        "submission URL",
        "smtp://mailer%40example.com:{{pwurl:16}}@smtp.example.com:587",
        USERINFO,
    ),
    ("FTP", "URL", "ftp://backup:{{pwurl:14}}@ftp.example.org/exports/", "RFC 1738, section 3.2"),
    (
        "Elasticsearch",
        "URL with credentials",
        "https://elastic:{{pwurl:20}}@es.internal:9200",
        USERINFO,
    ),
    (
        "Git",
        "token in a clone URL",
        "https://x-access-token:{{pwurl:40}}@github.com/acme/api.git",
        "https://git-scm.com/docs/gitcredentials",
    ),
    (
        "Cloudinary",
        "environment URL",
        "cloudinary://{{_digits:15}}:{{b64url:27}}@acme",
        "https://cloudinary.com/documentation/how_to_integrate_cloudinary#cloudinary_url",
    ),
    (
        "Sidekiq",
        "Enterprise source URL",
        "https://{{hex:8}}:{{hex:8}}@enterprise.contribsys.com/",
        gl("sidekiq-sensitive-url"),
    ),
    (
        "Apache Kafka",
        "SASL/PLAIN JAAS config",
        "org.apache.kafka.common.security.plain.PlainLoginModule"
        ' required username="orders" password="{{pwmixed:20}}";',
        "https://kafka.apache.org/documentation/#security_sasl_plain",
    ),
    (
        "pip",
        "index URL with credentials",
        "https://build:{{pwurl:24}}@pypi.internal.example/simple",
        "https://pip.pypa.io/en/stable/topics/authentication/",
    ),
    (
        "netrc",
        "machine entry",
        "machine api.example.com login deploy password {{pwmixed:20}}",
        "https://www.gnu.org/software/inetutils/manual/html_node/The-_002enetrc-file.html",
    ),
    (
        "NuGet",
        "nuget.config password",
        '<add key="ClearTextPassword" value="{{pwmixed:20}}" />',
        gl("nuget-config-password"),
    ),
    (
        "Apache Maven",
        "settings.xml server password",
        "<server><id>releases</id><username>ci</username><password>{{pwmixed:20}}</password></server>",
        "https://maven.apache.org/settings.html#servers",
    ),
    (
        "Spring Boot",
        "datasource password",
        "spring.datasource.password={{pwmixed:20}}",
        "https://docs.spring.io/spring-boot/appendix/application-properties/index.html",
    ),
]

_COMMANDS: list[tuple[str, str, str, str]] = [
    (
        "curl",
        "-u user:password",
        "curl -u deploy:{{pwmixed:18}} https://ci.example.com/api/json",
        "https://curl.se/docs/manpage.html#-u",
    ),
    (
        "curl",
        "--user user:password",
        "curl --user admin:{{pwmixed:18}} -X POST https://jenkins.internal/job/build",
        gl("curl-auth-user"),
    ),
    (
        "curl",
        "-H bearer header",
        "curl -H 'Authorization: Bearer {{b64url:40}}' https://api.example.com/v1/me",
        gl("curl-auth-header"),
    ),
    (
        "MySQL",
        "mysql -p<password>",
        "mysql -h db.internal -u root -p{{pwmixed:16}} shop",
        "https://dev.mysql.com/doc/refman/8.0/en/connection-options.html#option_general_password",
    ),
    (
        "MySQL",
        "mysqldump -p<password>",
        "mysqldump -uroot -p{{pwmixed:16}} --all-databases",
        "https://dev.mysql.com/doc/refman/8.0/en/mysqldump.html",
    ),
    (
        "PostgreSQL",
        "PGPASSWORD",
        "PGPASSWORD={{pwmixed:18}} psql -h db.internal -U app app",
        "https://www.postgresql.org/docs/current/libpq-envars.html",
    ),
    (
        "PostgreSQL",
        "CREATE USER ... PASSWORD",
        "CREATE USER report WITH PASSWORD '{{pwmixed:18}}';",
        "https://www.postgresql.org/docs/current/sql-createrole.html",
    ),
    (
        "MySQL",
        "IDENTIFIED BY",
        "ALTER USER 'app'@'%' IDENTIFIED BY '{{pwmixed:18}}';",
        "https://dev.mysql.com/doc/refman/8.0/en/alter-user.html",
    ),
    (
        "Microsoft SQL Server",
        "sqlcmd -P",
        'sqlcmd -S db.internal -U sa -P {{pwmixed:16}} -Q "SELECT 1"',
        "https://learn.microsoft.com/en-us/sql/tools/sqlcmd/sqlcmd-utility",
    ),
    (
        "sshpass",
        "-p password",
        "sshpass -p {{pwmixed:16}} ssh ops@bastion.internal",
        "https://linux.die.net/man/1/sshpass",
    ),
    (
        "Docker",
        "docker login -p",
        "docker login -u ci -p {{pwmixed:20}} registry.example.com",
        "https://docs.docker.com/reference/cli/docker/login/",
    ),
    (
        "Redis",
        "redis-cli -a",
        "redis-cli -h cache.internal -a {{pwmixed:24}} ping",
        "https://redis.io/docs/latest/develop/tools/cli/",
    ),
    (
        "MongoDB",
        "mongosh --password",
        "mongosh mongodb://db.internal:27017 --username admin --password {{pwmixed:18}}",
        "https://www.mongodb.com/docs/mongodb-shell/reference/options/",
    ),
    (
        "OpenLDAP",
        "ldapsearch -w",
        "ldapsearch -x -H ldap://ldap.internal -D cn=admin,dc=example,dc=org"
        " -w {{pwmixed:16}} -b dc=example,dc=org",
        "https://www.openldap.org/software/man.cgi?query=ldapsearch",
    ),
    (
        "GNU Wget",
        "--password=",
        "wget --user=ci --password={{pwmixed:16}} https://files.example.com/build.tar.gz",
        "https://www.gnu.org/software/wget/manual/wget.html",
    ),
    (
        "Apache HTTP Server",
        "htpasswd -b",
        "htpasswd -b /etc/nginx/.htpasswd admin {{pwmixed:16}}",
        "https://httpd.apache.org/docs/2.4/programs/htpasswd.html",
    ),
    (
        "OpenSSL",
        "-passout pass:",
        "openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12"
        " -passout pass:{{pwmixed:16}}",
        "https://docs.openssl.org/master/man1/openssl-passphrase-options/",
    ),
    (
        "Microsoft Azure",
        "az login --service-principal -p",
        "az login --service-principal -u {{_uuid}}"
        " -p {{azpre:3}}{{digits:1}}Q~{{azsec:34}} --tenant {{_uuid}}",
        "https://learn.microsoft.com/en-us/cli/azure/authenticate-azure-cli-service-principal",
    ),
    (
        "Microsoft Windows",
        "net use /user:",
        "net use Z: \\\\fileserver\\share /user:CORP\\svc_backup {{pwmixed:16}}",
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/net-use",
    ),
    (
        "RabbitMQ",
        "rabbitmqctl add_user",
        "rabbitmqctl add_user orders {{pwmixed:20}}",
        "https://www.rabbitmq.com/docs/man/rabbitmqctl.8",
    ),
    (
        "Kubernetes",
        "kubectl --from-literal",
        "kubectl create secret generic db --from-literal=password={{pwmixed:18}}",
        "https://kubernetes.io/docs/reference/kubectl/generated/kubectl_create/kubectl_create_secret_generic/",
    ),
    (
        "Helm",
        "--set password",
        "helm upgrade --install app ./chart --set db.password={{pwmixed:18}}",
        "https://helm.sh/docs/helm/helm_upgrade/",
    ),
    (
        "Ansible",
        "--extra-vars password",
        "ansible-playbook site.yml --extra-vars 'db_password={{pwmixed:18}}'",
        "https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_variables.html",
    ),
    (
        "HashiCorp Terraform",
        "-var password",
        "terraform apply -var 'db_password={{pwmixed:18}}'",
        "https://developer.hashicorp.com/terraform/language/values/variables",
    ),
]

PASSWORDS: Final[tuple[Format, ...]] = (
    *_templated("connection strings and URLs", _CONNECTIONS),
    *_templated("command lines", _COMMANDS),
)
