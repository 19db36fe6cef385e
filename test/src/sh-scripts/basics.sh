mkdir /d
mkdir /d          # exists
write /d/f 'hello'
append /d/f ' world'
cat /d/f
pwrite /d/f 6 W
cat /d/f
stat /d/f
ln /d/f /d/g
stat /d/g
mv /d/g /d/h
ls /d
symlink /d/f /s
stat /s
cat /s
truncate /d/f 2
cat /d/h
chmod 600 /d/f
as 1000:1000
cat /d/f
write /d/x nope
as 0:0
chown 1000:1000 /d
as 1000:1000
write /d/x yes
rm /d/h
rmdir /d
mkfifo /d/p
stat /d/p
fsync /d/x
sync
writeb /d/b 10 7
stat /d/b
cat /d/b
