using Npgsql;

namespace SlmStudio.Web.Tests;

/// <summary>
/// A test that needs a real PostgreSQL server: the connection string comes from SLM_TEST_POSTGRES (`eval "$(.ci/postgres-start)"`
/// sets it; .ci/run does so for CI). Without it the test is reported as skipped, with the reason.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(PostgresTestDatabase.ServerConnectionString))
            Skip = $"No PostgreSQL for tests: set {PostgresTestDatabase.Variable} to a connection string (run: eval \"$(.ci/postgres-start)\").";
    }
}

/// <summary>A fresh, empty database on the test server for one test; dropped (connections and all) on dispose.</summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    public const string Variable = "SLM_TEST_POSTGRES";
    public static string? ServerConnectionString => Environment.GetEnvironmentVariable(Variable);

    public string Name { get; }
    public string ConnectionString { get; }

    private PostgresTestDatabase(string name, string connectionString) => (Name, ConnectionString) = (name, connectionString);

    public static async Task<PostgresTestDatabase> CreateAsync()
    {
        var name = $"slm_test_{Guid.NewGuid():N}"[..30];
        await ExecuteOnServerAsync($"CREATE DATABASE \"{name}\"");
        var builder = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = name };
        return new PostgresTestDatabase(name, builder.ConnectionString);
    }

    /// <summary>The settings that put a test host on this database.</summary>
    public Dictionary<string, string?> Settings(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Studio:Database:Provider"] = "PostgreSql",
            ["Studio:Database:ConnectionString"] = ConnectionString,
        };
        foreach (var (key, value) in more ?? []) settings[key] = value;
        return settings;
    }

    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (n, v) in parameters) command.Parameters.AddWithValue(n, v);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    /// <summary>Removes the database while clients may still use it: what they see when the database server goes away.</summary>
    public async Task DropAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteOnServerAsync($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
    }

    private static async Task ExecuteOnServerAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync() => await DropAsync();

    /// <summary>SLM_TEST_ALL_ON_POSTGRES=1 with SLM_TEST_POSTGRES: every test host of the suite runs on PostgreSQL.</summary>
    public static bool EveryHostOnPostgres =>
        Environment.GetEnvironmentVariable("SLM_TEST_ALL_ON_POSTGRES") == "1" && !string.IsNullOrWhiteSpace(ServerConnectionString);

    private static readonly Dictionary<string, PostgresTestDatabase> ByFolder = [];

    public static async Task<PostgresTestDatabase> ForFolderAsync(string folder)
    {
        lock (ByFolder) if (ByFolder.TryGetValue(folder, out var existing)) return existing;
        var created = await CreateAsync();
        lock (ByFolder) ByFolder[folder] = created;
        return created;
    }

    public static async Task ForgetFolderAsync(string folder)
    {
        PostgresTestDatabase? database;
        lock (ByFolder) { if (ByFolder.Remove(folder, out database) is false) return; }
        await database!.DropAsync();
    }
}
