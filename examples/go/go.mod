module criurs.example/runc-client

go 1.19
