using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace SlmStudio.Web.Data;

/// <summary>
/// The portal's records. This type is the SQLite context (its migrations are in Data/Migrations);
/// <see cref="PostgresStudioDbContext"/> derives from it only so that PostgreSQL has its own migration set
/// (EF Core's "migrations with multiple providers": one context type per provider). Everything else asks for this type.
/// </summary>
public class StudioDbContext : IdentityDbContext<StudioUser>
{
    public StudioDbContext(DbContextOptions<StudioDbContext> options) : base(options) { }

    /// <summary>For a provider-specific derived context, whose options are typed to it.</summary>
    protected StudioDbContext(DbContextOptions options) : base(options) { }

    public DbSet<Project> Projects => Set<Project>();
    public DbSet<GoalTest> GoalTests => Set<GoalTest>();
    public DbSet<DataFile> DataFiles => Set<DataFile>();
    public DbSet<DatasetVersionRecord> DatasetVersions => Set<DatasetVersionRecord>();
    public DbSet<TrainingRun> Runs => Set<TrainingRun>();
    public DbSet<RunEvent> RunEvents => Set<RunEvent>();
    public DbSet<ModelVersion> ModelVersions => Set<ModelVersion>();
    public DbSet<ModelAlias> Aliases => Set<ModelAlias>();
    public DbSet<PresetBenchmark> Benchmarks => Set<PresetBenchmark>();
    public DbSet<ProjectMember> ProjectMembers => Set<ProjectMember>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<AuditEntry> AuditLog => Set<AuditEntry>();

    protected override void OnModelCreating(ModelBuilder b)
    {
        // Identity's tables (users, roles, claims) first: they live in the same SQLite file as the projects.
        base.OnModelCreating(b);
        b.Entity<ProjectMember>().HasIndex(m => new { m.ProjectId, m.UserId }).IsUnique();
        b.Entity<ProjectMember>().HasOne<StudioUser>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
        b.Entity<Project>().HasMany(p => p.Members).WithOne().HasForeignKey(m => m.ProjectId).OnDelete(DeleteBehavior.Cascade);
        b.Entity<Project>().HasIndex(p => p.OwnerId);
        b.Entity<ApiKey>().HasIndex(k => k.Prefix).IsUnique();
        b.Entity<ApiKey>().HasOne<StudioUser>().WithMany().HasForeignKey(k => k.UserId).OnDelete(DeleteBehavior.Cascade);
        b.Entity<AuditEntry>().HasIndex(a => a.At);
        b.Entity<AuditEntry>().HasIndex(a => new { a.ProjectId, a.Id });
        b.Entity<Project>().Property(p => p.Name).HasMaxLength(200);
        b.Entity<Project>().Property(p => p.Domain).HasConversion<string>();
        b.Entity<Project>().Property(p => p.UseCase).HasConversion<string>();
        b.Entity<TrainingRun>().Property(r => r.Status).HasConversion<string>();
        b.Entity<DataFile>().Property(f => f.Status).HasConversion<string>();
        b.Entity<DataFile>().HasIndex(f => new { f.ProjectId, f.Status });
        b.Entity<DatasetVersionRecord>().ToTable("DatasetVersions");
        b.Entity<DatasetVersionRecord>().HasIndex(d => new { d.ProjectId, d.DatasetId }).IsUnique();
        // Dataset versions are immutable and referenced by runs and models: never deleted from under them.
        b.Entity<TrainingRun>().HasOne(r => r.DatasetVersion).WithMany().HasForeignKey(r => r.DatasetVersionId).OnDelete(DeleteBehavior.Restrict);
        b.Entity<ModelVersion>().HasOne(v => v.DatasetVersion).WithMany().HasForeignKey(v => v.DatasetVersionId).OnDelete(DeleteBehavior.Restrict);
        b.Entity<TrainingRun>().HasIndex(r => r.Status);
        b.Entity<TrainingRun>().Ignore(r => r.IsActive);
        b.Entity<RunEvent>().HasIndex(e => new { e.RunId, e.Id });
        b.Entity<ModelVersion>().HasIndex(v => new { v.ProjectId, v.Number }).IsUnique();
        b.Entity<ModelVersion>().HasIndex(v => v.RunId).IsUnique();
        b.Entity<ModelAlias>().HasIndex(a => new { a.ProjectId, a.Name }).IsUnique();
        b.Entity<PresetBenchmark>().HasIndex(x => new { x.Preset, x.VocabSize, x.MachineName }).IsUnique();

        ConfigureDateTimeOffsets(b);
    }

    /// <summary>SQLite cannot order or compare DateTimeOffset; it stores them as UTC ticks.</summary>
    protected virtual void ConfigureDateTimeOffsets(ModelBuilder b)
    {
        foreach (var entity in b.Model.GetEntityTypes())
        foreach (var property in entity.GetProperties())
        {
            if (property.ClrType == typeof(DateTimeOffset))
                property.SetValueConverter(new Microsoft.EntityFrameworkCore.Storage.ValueConversion.DateTimeOffsetToBinaryConverter());
            else if (property.ClrType == typeof(DateTimeOffset?))
                property.SetValueConverter(new Microsoft.EntityFrameworkCore.Storage.ValueConversion.DateTimeOffsetToBinaryConverter());
        }
    }
}
