using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace SlmStudio.Web.Data;

/// <summary>
/// The same model on PostgreSQL, with its own migrations (Data/PostgreSqlMigrations). Registered in place of
/// <see cref="StudioDbContext"/> when Studio:Database:Provider is PostgreSql.
/// </summary>
public sealed class PostgresStudioDbContext(DbContextOptions<PostgresStudioDbContext> options) : StudioDbContext(options)
{
    /// <summary>
    /// PostgreSQL keeps DateTimeOffset as "timestamp with time zone", which Npgsql only writes in UTC: every value is
    /// turned to UTC on the way in, so a time with a local offset is stored correctly instead of refused.
    /// </summary>
    protected override void ConfigureDateTimeOffsets(ModelBuilder b)
    {
        var toUtc = new ValueConverter<DateTimeOffset, DateTimeOffset>(v => v.ToUniversalTime(), v => v);
        var toUtcNullable = new ValueConverter<DateTimeOffset?, DateTimeOffset?>(v => v.HasValue ? v.Value.ToUniversalTime() : v, v => v);
        foreach (var entity in b.Model.GetEntityTypes())
        foreach (var property in entity.GetProperties())
        {
            if (property.ClrType == typeof(DateTimeOffset)) property.SetValueConverter(toUtc);
            else if (property.ClrType == typeof(DateTimeOffset?)) property.SetValueConverter(toUtcNullable);
        }
    }

    // No retrying execution strategy: it refuses user-initiated transactions, which the SQLite path allows.
    public static void Configure(DbContextOptionsBuilder db, string connectionString) => db.UseNpgsql(connectionString);
}

/// <summary>
/// Lets `dotnet ef migrations add … --context PostgresStudioDbContext` build the model without a running database
/// or the portal's configuration (adding a migration never connects).
/// </summary>
public sealed class PostgresStudioDbContextDesignTimeFactory : IDesignTimeDbContextFactory<PostgresStudioDbContext>
{
    public PostgresStudioDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<PostgresStudioDbContext>();
        PostgresStudioDbContext.Configure(builder, "Host=localhost;Database=slmstudio_design;Username=slm");
        return new PostgresStudioDbContext(builder.Options);
    }
}
